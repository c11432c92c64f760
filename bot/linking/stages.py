"""Linking's stages of a turn: proofs and codes before the flows (`intercept`), and the
acknowledgement of a channel switch after them (`compose`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.pipeline import Turn
from bot.linking import texts
from dialogs.builtin.link_channels import LINK_CODE
from dialogs.prompts import Prompt
from storage.identities import Merged, parse_code
from storage.vocabulary import OPEN

if TYPE_CHECKING:
    from bot.linking.service import Linking

__all__ = ["LinkIntercept", "SwitchNotice"]


class LinkIntercept:
    """Codes, own-contact shares and "link" are answered here and never reach the flows; a
    merge changes this customer's state, so it is read again, and the open question is
    asked again."""

    def __init__(self, linking: Linking) -> None:
        self._linking = linking

    async def __call__(self, turn: Turn) -> None:
        """Answer a message about linking; otherwise let the flows have it."""
        if turn.flows and turn.inbound.control is None:
            answer = await self._answer(turn)
            if answer is not None:
                turn.flows = False
                turn.replies.extend(answer)
                turn.replies.extend(self._linking.continue_prompts(turn.state))

    async def _answer(self, turn: Turn) -> list[Prompt] | None:
        linking = self._linking
        inbound = turn.inbound
        row = turn.row
        if inbound.contact_phone and inbound.contact_is_own and inbound.channel == "telegram":
            merged = await linking.store.prove_phone(row.identity_id, inbound.contact_phone)
            if merged is not None:
                await self._after_merge(turn, merged)
                return [Prompt(texts.PHONE_LINKED)]
            pending = linking.continue_prompts(turn.state)
            if pending and pending[0].meta.get("request_contact"):
                return None  # a flow asked for the contact: it gets it as the answer too
            return [Prompt(texts.PHONE_VERIFIED)]
        text = (inbound.text or "").strip()
        code = parse_code(text, start_payload=inbound.start_payload)
        if code is not None:
            result = await linking.store.redeem(
                code,
                row.customer_id,
                row.identity_id,
                proof="deep_link" if inbound.start_payload else "code",
            )
            if result.status == "linked" and result.merged is not None:
                await self._after_merge(turn, result.merged)
                where = texts.channel_name(result.code_channel or "")
                return [Prompt(texts.LINKED.format(where=where))]
            if result.status == "already":
                return [Prompt(texts.ALREADY)]
            if result.status == "throttled":
                return [Prompt(texts.THROTTLED)]
            return [Prompt(texts.CODE_FAILED)]
        if text.lower() in texts.LINK_WORDS or inbound.choice == texts.LINK_CHOICE:
            return [await linking.code_prompt(row.customer_id, row.identity_id)]
        return None

    async def _after_merge(self, turn: Turn, merged: Merged) -> None:
        # The merge moved the other customer's state to this one: read it again.
        self._linking.merged(merged)
        turn.state = await self._linking.state_of(turn.customer_id)


class SwitchNotice:
    """A linked customer who switched channel mid-question hears once where the
    conversation picks up; a linking code a flow asked for is made here."""

    def __init__(self, linking: Linking) -> None:
        self._linking = linking

    async def __call__(self, turn: Turn) -> None:
        """Acknowledge a switch; fill in linking codes the flows asked for."""
        if turn.outcome is not None:
            linking = self._linking
            switched = await linking.switched(turn.customer_id, turn.inbound.channel, turn.state)
            if switched is not None and turn.before not in OPEN:
                where = texts.channel_name(switched)
                turn.replies.insert(0, Prompt(texts.SWITCHED.format(where=where)))
            for index, prompt in enumerate(turn.replies):
                if prompt.meta.get(LINK_CODE):
                    turn.replies[index] = await linking.code_prompt(
                        turn.customer_id, turn.row.identity_id
                    )
