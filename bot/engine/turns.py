"""One turn: an inbox row in, the flow replayed, state and replies committed together."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

from adapters.base import Inbound
from bot.engine.outbox import Outbox
from bot.linking import Linker, channel_name
from dialogs import App, Outcome, run_turn
from dialogs.prompts import Prompt
from storage import (
    Accepted,
    CustomerState,
    OutboxRow,
    ReplyWrite,
    Store,
    TurnWrite,
    reachable,
)
from storage.vocabulary import OPEN

log = logging.getLogger("baton.engine")

__all__ = ["Routing", "TurnHandler", "answer_of"]

_CACHE_SIZE = 20_000
_ROUTING_RETRIES = 5
_PEOPLE = OPEN


class Routing(Protocol):
    """Commits the turns that involve people (see `bot.handoff.Handoffs`)."""

    async def commit(
        self, turn: TurnWrite, state: CustomerState, outcome: Outcome, reply_to: ReplyWrite
    ) -> list[OutboxRow] | None:
        """Commit a turn routed on `state.status`; None if the status changed meanwhile."""
        ...

    def committed(self, customer_id: int, before: str, after: str) -> None:
        """A turn of a customer in (or leaving, or entering) the hands of people committed."""
        ...


def answer_of(inbound: Inbound) -> dict[str, Any]:
    """What a flow sees of a message (journaled as the answer)."""
    data: dict[str, Any] = {}
    if inbound.text is not None:
        data["text"] = inbound.text
    if inbound.choice is not None:
        data["choice"] = inbound.choice
    if inbound.media:
        data["media"] = [[m.kind, m.url, m.mime_type, m.name] for m in inbound.media]
    if inbound.contact_phone is not None:
        data["contact_phone"] = inbound.contact_phone
    if inbound.location is not None:
        data["location"] = [inbound.location.latitude, inbound.location.longitude]
    if inbound.start_payload is not None:
        data["start_payload"] = inbound.start_payload
    return data


class TurnHandler:
    """Handles inbox rows; keeps a bounded cache of customer state between turns."""

    def __init__(self, store: Store, app: App, outbox: Outbox) -> None:
        self._store = store
        self._app = app
        self._outbox = outbox
        self._states: OrderedDict[int, CustomerState] = OrderedDict()
        self._flags: OrderedDict[int, dict[str, bool]] = OrderedDict()
        self.routing: Routing | None = None
        """Set by the console: handoffs, the queue and the live view."""
        self.linker: Linker | None = None
        """Set by the engine: linking channels (bot.linking)."""

    def forget(self, customer_id: int) -> None:
        """Drop cached state, e.g. when another process may have changed it."""
        self._states.pop(customer_id, None)

    def prime(self, state: CustomerState) -> None:
        """Cache state read when a lane took the customer's lease (several processes)."""
        self._remember(state)

    def prime_new(self, state: CustomerState, identity_id: int) -> None:
        """Cache the state of a customer the inbox just created, and their identity's flags
        (none set), so their first turn reads neither (one engine process)."""
        self._remember(state)
        self._remember_flags(identity_id, {"opted_out": False, "unreachable": False})

    async def _state(self, customer_id: int) -> CustomerState:
        # With one engine process the cache is always right; with several, lanes prime it
        # when they take a customer's lease and forget it when they give the lease back.
        state = self._states.get(customer_id)
        if state is None:
            state = await self._store.load_state(customer_id)
        return state

    async def _identity_flags(self, identity_id: int) -> dict[str, bool]:
        flags = self._flags.get(identity_id)
        if flags is None:
            flags = await self._store.identity_flags(identity_id)
            self._remember_flags(identity_id, flags)
        return flags

    def _remember_flags(self, identity_id: int, flags: dict[str, bool]) -> None:
        self._flags[identity_id] = flags
        if len(self._flags) > _CACHE_SIZE:
            self._flags.popitem(last=False)

    def identity_changed(self, identity_id: int, flags: dict[str, bool]) -> None:
        """Update cached flags after the outbox marked an identity unreachable or opted out."""
        cached = self._flags.get(identity_id)
        if cached is not None:
            cached.update(flags)

    async def handle(self, row: Accepted) -> None:
        """Handle one inbox row; returns after its effects are committed."""
        inbound = Inbound.from_json(row.payload)
        flags = await self._identity_flags(row.identity_id)
        if self.linker is not None and not inbound.edited and inbound.control is None:
            # Linking channels (bot.linking): codes, own-contact shares and "link" are
            # answered here and never reach the flows; a merge changes this customer's
            # state, so it is read again, and the open question is asked again.
            state = await self._state(row.customer_id)
            linked = await self.linker.before_turn(row, inbound, state)
            if linked is not None:
                self.forget(row.customer_id)
                state = await self._state(row.customer_id)
                await self._reply_only(
                    row, inbound, state, flags, linked + self.linker.continue_prompts(state)
                )
                return
        for _ in range(_ROUTING_RETRIES):
            state = await self._state(row.customer_id)
            if await self._turn(row, inbound, state, flags):
                return
            # People changed the conversation's status while the turn ran (an agent claimed
            # or resolved it): nothing was written; run the turn again on the new status.
            self.forget(row.customer_id)
        raise RuntimeError(
            f"customer {row.customer_id}: the conversation kept changing hands; retried later"
        )

    async def _turn(
        self, row: Accepted, inbound: Inbound, state: CustomerState, flags: dict[str, bool]
    ) -> bool:
        turn = TurnWrite(
            inbox_id=row.inbox_id,
            customer_id=row.customer_id,
            conversation_id=state.conversation_id,
            identity_id=row.identity_id,
            channel=inbound.channel,
            inbound_text=inbound.text,
            inbound_payload=answer_of(inbound) | ({"edited": True} if inbound.edited else {}),
            inbound_platform_id=inbound.message_id,
            active_run_id=state.active_run_id,
        )
        if inbound.control in ("opt_out", "opt_in"):
            # The platform already answered the customer; we record and honour it.
            opted_out = inbound.control == "opt_out"
            turn.identity_flags = {"opted_out": opted_out}
            await self._store.commit_turn(turn)
            flags["opted_out"] = opted_out
            self._remember(state)
            self._committed(state, state.status)
            return True
        if inbound.edited:
            # Policy: an edit is recorded for people to read; flows never re-run on it.
            await self._store.commit_turn(turn)
            self._remember(state)
            self._committed(state, state.status)
            return True
        # Linking channels: a linked customer who switched channel mid-question hears once
        # where the conversation picks up (bot.linking).
        switched = (
            await self.linker.switched(row.customer_id, inbound.channel, state)
            if self.linker is not None
            else None
        )
        outcome = await run_turn(
            self._app, state, turn.inbound_payload or {}, channel=inbound.channel
        )
        if switched is not None and state.status not in _PEOPLE:
            outcome.replies.insert(
                0, Prompt(f"Picking up where we left off on {channel_name(switched)}.")
            )
        sendable = reachable(flags)
        turn.replies = [
            ReplyWrite(
                inbound.channel,
                row.identity_id,
                inbound.identity,
                inbound.route,
                prompt.text,
                prompt.to_json(),
                send=sendable,
            )
            for prompt in outcome.replies
        ]
        turn.new_runs = outcome.new_runs
        turn.ended_runs = outcome.ended_runs
        turn.journal = outcome.journal
        turn.active_run_id = outcome.active_run_id
        turn.memory = outcome.memory
        turn.status = outcome.status
        turn.handoff_reason = outcome.handoff_reason
        before = state.status
        after = outcome.status or before
        if self.routing is not None and (before in _PEOPLE or after != before):
            reply_to = ReplyWrite(
                inbound.channel,
                row.identity_id,
                inbound.identity,
                inbound.route,
                "",
                {},
                send=sendable,
            )
            routed = await self.routing.commit(turn, state, outcome, reply_to)
            if routed is None:
                return False
            outbox_rows = routed
        else:
            outbox_rows = await self._store.commit_turn(turn)
        state.active_run_id = outcome.active_run_id
        state.active_flow = outcome.active_flow
        state.journal = outcome.active_journal
        if outcome.memory is not None:
            state.memory = outcome.memory
        if outcome.status is not None:
            state.status = outcome.status
        self._remember(state)
        if outbox_rows:
            self._outbox.enqueue(outbox_rows)
        self._committed(state, before)
        return True

    def _committed(self, state: CustomerState, before: str) -> None:
        if self.routing is not None and (before in _PEOPLE or state.status != before):
            self.routing.committed(state.customer_id, before, state.status)

    async def _reply_only(
        self,
        row: Accepted,
        inbound: Inbound,
        state: CustomerState,
        flags: dict[str, bool],
        prompts: list[Prompt],
    ) -> None:
        # A turn that records the message and answers it; no flow runs (bot.linking).
        sendable = reachable(flags)
        turn = TurnWrite(
            inbox_id=row.inbox_id,
            customer_id=row.customer_id,
            conversation_id=state.conversation_id,
            identity_id=row.identity_id,
            channel=inbound.channel,
            inbound_text=inbound.text,
            inbound_payload=answer_of(inbound),
            inbound_platform_id=inbound.message_id,
            active_run_id=state.active_run_id,
            replies=[
                ReplyWrite(
                    inbound.channel,
                    row.identity_id,
                    inbound.identity,
                    inbound.route,
                    p.text,
                    p.to_json(),
                    send=sendable,
                )
                for p in prompts
            ],
        )
        self._outbox.enqueue(await self._store.commit_turn(turn))
        self._remember(state)

    async def give_up(self, row: Accepted) -> None:
        """Mark a row that keeps failing as handled, with an apology, so the line moves on."""
        state = await self._store.load_state(row.customer_id)
        await self._reply_only(
            row, Inbound.from_json(row.payload), state, {}, [Prompt(self._app.texts.apology)]
        )

    def _remember(self, state: CustomerState) -> None:
        self._states[state.customer_id] = state
        self._states.move_to_end(state.customer_id)
        if len(self._states) > _CACHE_SIZE:
            self._states.popitem(last=False)
