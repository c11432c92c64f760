"""One customer across channels, in the engine: what proves a link, and what the customer sees.

Before a message reaches the flows, `Linker.before_turn` looks for the three proofs:

- a Telegram contact share of the sender's own contact (`Inbound.contact_is_own`, which the
  adapter sets only when `contact.user_id == from.id`): the number is proven for that
  Telegram identity and the SMS identity of that number joins the customer, now or when it
  first texts in. Anyone else's contact proves nothing and goes to the flow as an answer;
- a linking code ("12345-67890", or Telegram `/start link-1234567890` from a deep link)
  sent from another channel; "link" (or "link my channels", or the built-in `link_channels`
  choice) asks for one;

A merge happens inside the turn of the customer writing now, so that customer keeps its id
and its lane; the other customer's queued messages move to this lane (`Lanes.merged`) and the
cached state of both is dropped. After a link, and whenever a linked customer writes from a
different channel than before while a question is open, the bot says once where it picks up
from and asks the open question again, rendered for the new channel.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.base import Inbound
from dialogs import pending_prompt
from dialogs.builtin.link_channels import LINK_CODES
from dialogs.prompts import Prompt
from storage import CustomerState, Store
from storage.identities import Linking, Merged, parse_code

if TYPE_CHECKING:
    from storage import Accepted

log = logging.getLogger("baton.linking")

__all__ = ["LINK_CHOICE", "LINK_WORDS", "Linker", "channel_name"]

LINK_WORDS = ("link", "link my channels", "link channels")
"""Messages that ask for a linking code (case-insensitive, whole message)."""
LINK_CHOICE = "link_channels"
"""A button value that asks for a linking code."""

_NAMES = {"telegram": "Telegram", "twilio": "SMS", "slack": "Slack", "web": "the web chat"}
_CACHE = 20_000


def channel_name(channel: str) -> str:
    """How customers call a channel."""
    return _NAMES.get(channel, channel)


class Linker:
    """Linking in the engine: proofs and codes before the flows, and channel switches."""

    def __init__(self, store: Store) -> None:
        self.store = Linking(store)
        self.telegram_bot: str | None = None
        """The Telegram bot's username (from getMe), for t.me deep links."""
        self.on_merge: Callable[[Merged], None] = lambda merged: None
        """Told after a merge: the engine moves lanes and drops cached state."""
        self._last_channel: OrderedDict[int, str] = OrderedDict()

    # -- before the flow -------------------------------------------------------------------

    async def before_turn(
        self, row: Accepted, inbound: Inbound, state: CustomerState
    ) -> list[Prompt] | None:
        """Replies when the message was about linking (the flow does not see it), else None."""

        async def issue() -> str:
            return (await self.code_prompt(row.customer_id, row.identity_id)).text

        LINK_CODES.set(issue)  # for the built-in link_channels flow, in this turn's task
        if inbound.contact_phone and inbound.contact_is_own and inbound.channel == "telegram":
            merged = await self.store.prove_phone(row.identity_id, inbound.contact_phone)
            if merged is not None:
                self._merged(merged, inbound.channel)
                return [
                    Prompt(
                        "Thanks! Your number is verified: your text messages and this chat "
                        "are one conversation now."
                    )
                ]
            pending = pending_prompt(state.journal) if state.active_run_id else None
            if pending is not None and pending.meta.get("request_contact"):
                return None  # a flow asked for the contact: it gets it as the answer too
            return [
                Prompt(
                    "Thanks! Your number is verified. If you text us from it, we'll "
                    "know it's you and carry on from here."
                )
            ]
        text = (inbound.text or "").strip()
        code = parse_code(text, start_payload=inbound.start_payload)
        if code is not None:
            result = await self.store.redeem(
                code,
                row.customer_id,
                row.identity_id,
                proof="deep_link" if inbound.start_payload else "code",
            )
            if result.status == "linked" and result.merged is not None:
                self._merged(result.merged, inbound.channel)
                where = channel_name(result.code_channel or "")
                return [
                    Prompt(f"Linked! This chat and your {where} chat are one conversation now.")
                ]
            if result.status == "already":
                return [Prompt("This chat is already linked to that one.")]
            if result.status == "throttled":
                return [
                    Prompt(
                        "Too many tries with linking codes. Please wait 15 minutes, then ask "
                        "for a new code by saying 'link'."
                    )
                ]
            # Identical for unknown, expired, used and mistyped codes: no oracle.
            return [
                Prompt(
                    "That code didn't work. Codes work once, for 10 minutes: say 'link' on "
                    "your other channel for a new one."
                )
            ]
        if text.lower() in LINK_WORDS or inbound.choice == LINK_CHOICE:
            return [await self.code_prompt(row.customer_id, row.identity_id)]
        return None

    async def code_prompt(self, customer_id: int, identity_id: int) -> Prompt:
        """A new linking code and how to use it."""
        code = await self.store.new_code(customer_id, identity_id)
        lines = [
            f"Your linking code is {code}. Send it to us from your other channel "
            "(SMS, Telegram or Slack) within 10 minutes, and both chats become one "
            "conversation. Never share it with anyone else."
        ]
        if self.telegram_bot:
            payload = "link-" + code.replace("-", "")
            lines.append(f"On Telegram, tap https://t.me/{self.telegram_bot}?start={payload}")
        return Prompt("\n".join(lines))

    def _merged(self, merged: Merged, channel: str) -> None:
        self._last_channel.pop(merged.other, None)
        self._last_channel[merged.keep] = channel
        self.on_merge(merged)

    # -- continuity ------------------------------------------------------------------------

    def continue_prompts(self, state: CustomerState) -> list[Prompt]:
        """The open question of the active flow, asked again (rendered for the channel the
        reply goes to), or nothing."""
        prompt = pending_prompt(state.journal) if state.active_run_id else None
        return [prompt] if prompt is not None else []

    async def switched(self, customer_id: int, channel: str, state: CustomerState) -> str | None:
        """The channel the customer wrote from before, when it differs from `channel` and a
        flow is waiting on an answer (so the bot acknowledges the switch once)."""
        before = self._last_channel.get(customer_id)
        if before is None and state.active_run_id is not None:
            before = await self._channel_of_last_identity(customer_id)
        self._last_channel[customer_id] = channel
        self._last_channel.move_to_end(customer_id)
        if len(self._last_channel) > _CACHE:
            self._last_channel.popitem(last=False)
        if before is None or before == channel or pending_prompt(state.journal) is None:
            return None
        return before

    async def _channel_of_last_identity(self, customer_id: int) -> str | None:
        return await self.store.last_channel(customer_id)

    def forget(self, customer_id: int) -> None:
        """Drop what is cached of a customer (an admin linked or unlinked them)."""
        self._last_channel.pop(customer_id, None)
