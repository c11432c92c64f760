"""One customer across channels, as a feature of the engine: proofs and codes before the
flows, merges and unlinks by people, and where a conversation picks up after a switch.

Before a message reaches the flows, the intercept stage (`bot.linking.stages`) looks for
the proofs:

- a Telegram contact share of the sender's own contact (`Inbound.contact_is_own`, which the
  adapter sets only when `contact.user_id == from.id`): the number is proven for that
  Telegram identity and the SMS identity of that number joins the customer, now or when it
  first texts in. Anyone else's contact proves nothing and goes to the flow as an answer;
- a linking code ("12345-67890", or Telegram `/start link-1234567890` from a deep link)
  sent from another channel; "link" (or "link my channels", or the built-in `link_channels`
  choice) asks for one.

A merge happens inside the turn of the customer writing now, so that customer keeps its id
and its lane; `CustomersMerged` moves the other customer's queued messages to this lane and
drops the cached state of both. After a link, and whenever a linked customer writes from a
different channel than before while a question is open, the bot says once where it picks up
from and asks the open question again, rendered for the new channel.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from bot.engine.pipeline import Slot
from bot.engine.signals import CustomersMerged, CustomerUnlinked, Signals, StrayRows
from bot.linking import texts
from dialogs import pending_prompt
from dialogs.prompts import Prompt
from storage import CustomerState
from storage.identities import Linking as LinkStore
from storage.identities import Merged, Unlinked

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder
    from bot.engine.states import CustomerStates

log = logging.getLogger("baton.linking")

__all__ = ["Linking"]

_CACHE = 20_000


class Linking:
    """The linking feature (see the module docstring)."""

    def __init__(self, *, telegram_bot: str | None = None) -> None:
        self.telegram_bot = telegram_bot
        """The Telegram bot's username (from getMe), for t.me deep links."""
        self._store: LinkStore | None = None
        self._signals: Signals | None = None
        self._states: CustomerStates | None = None
        self._telegram: object | None = None
        self._last_channel: OrderedDict[int, str] = OrderedDict()

    def install(self, builder: EngineBuilder) -> None:
        """Register the intercept and compose stages; sweep a merged customer's strays."""
        from bot.linking.stages import LinkIntercept, SwitchNotice

        self._store = LinkStore(builder.store)
        self._signals = builder.signals
        self._states = builder.states
        builder.stage(Slot.INTERCEPT, LinkIntercept(self))
        builder.stage(Slot.COMPOSE, SwitchNotice(self))
        builder.on_awaited(StrayRows, self._sweep_stray, required=True)
        builder.on(CustomersMerged, lambda s: self.forget(s.keep))
        builder.on(CustomerUnlinked, self._unlinked)

    async def start(self, engine: Engine) -> None:
        """Find the Telegram channel, whose bot's username makes deep links with a code."""
        self._telegram = engine.adapters.get("telegram")

    async def stop(self) -> None:
        """Nothing runs in the background."""

    @property
    def store(self) -> LinkStore:
        """Identities, codes and the merge log."""
        if self._store is None:
            raise RuntimeError("the linking feature is not installed in an engine")
        return self._store

    # -- people link and unlink ------------------------------------------------------------

    async def link(self, identity_a: int, identity_b: int, *, actor: str) -> Merged | None:
        """Link two identities (an agent or admin vouches for it)."""
        merged = await self.store.link(identity_a, identity_b, actor=actor)
        if merged is not None:
            self.merged(merged)
        return merged

    async def unlink(self, identity_id: int, *, actor: str) -> Unlinked | None:
        """Give an identity its own customer again (see `storage.identities`)."""
        unlinked = await self.store.unlink(identity_id, actor=actor)
        if unlinked is not None:
            self._emit(CustomerUnlinked(unlinked.customer_id, unlinked.new_customer_id))
        return unlinked

    def merged(self, merged: Merged) -> None:
        """Two customers became one: tell the engine (one lane, no stale cached state); the
        channel either wrote from last is read again from the store when needed."""
        self._last_channel.pop(merged.other, None)
        self._emit(CustomersMerged(merged.keep, merged.other))

    def _emit(self, signal: object) -> None:
        if self._signals is not None:
            self._signals.emit(signal)

    async def _sweep_stray(self, signal: StrayRows) -> None:
        merged = await self.store.sweep(signal.other, signal.keep)
        if merged is not None and self._states is not None:
            self._states.forget(signal.keep)

    def _unlinked(self, signal: CustomerUnlinked) -> None:
        self.forget(signal.customer_id)
        self.forget(signal.new_customer_id)

    # -- codes -------------------------------------------------------------------------------

    async def code_prompt(self, customer_id: int, identity_id: int) -> Prompt:
        """A new linking code and how to use it."""
        code = await self.store.new_code(customer_id, identity_id)
        lines = [texts.CODE.format(code=code)]
        # The username is known once the Telegram channel started (getMe).
        bot = self.telegram_bot or getattr(self._telegram, "username", None)
        if bot:
            payload = "link-" + code.replace("-", "")
            lines.append(texts.DEEP_LINK.format(bot=bot, payload=payload))
        return Prompt("\n".join(lines))

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
            before = await self.store.last_channel(customer_id)
        self._last_channel[customer_id] = channel
        self._last_channel.move_to_end(customer_id)
        if len(self._last_channel) > _CACHE:
            self._last_channel.popitem(last=False)
        if before is None or before == channel or pending_prompt(state.journal) is None:
            return None
        return before

    async def state_of(self, customer_id: int) -> CustomerState:
        """The customer's state as the engine sees it now (after a merge)."""
        if self._states is None:
            raise RuntimeError("the linking feature is not installed in an engine")
        return await self._states.state(customer_id)

    def forget(self, customer_id: int) -> None:
        """Drop what is cached of a customer (an admin linked or unlinked them)."""
        self._last_channel.pop(customer_id, None)
