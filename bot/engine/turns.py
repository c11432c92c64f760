"""The engine's own stages of a turn (identify, control, replay, commit) and the loop that
runs the pipeline for one inbox row (see `bot.engine.pipeline` for the order)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from adapters.base import Inbound
from bot.engine.outbox import Outbox
from bot.engine.pipeline import Pipeline, StatusChanged, Turn
from bot.engine.signals import Signals, TurnCommitted
from bot.engine.states import CustomerStates
from dialogs import App, run_turn
from dialogs.prompts import Prompt
from storage import Accepted, Store

log = logging.getLogger("baton.engine")

__all__ = ["CoreStages", "TurnRunner"]

_RETRIES = 5


class CoreStages:
    """The stages every turn has, whatever features are installed."""

    def __init__(
        self,
        store: Store,
        states: CustomerStates,
        *,
        question_expiry_hours: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._states = states
        self.question_expiry_hours = question_expiry_hours
        """How long an open question waits (`BATON_QUESTION_EXPIRY_HOURS`), unless the App
        says otherwise."""
        self.clock = clock
        """The time a turn's flows are run at (journaled with each question, see
        `dialogs.runtime`); tests set a later one instead of sleeping."""

    async def identify(self, turn: Turn) -> None:
        """The customer's state and the identity's flags, before anything else."""
        turn.flags = await self._states.flags(turn.row.identity_id)
        turn.state = await self._states.state(turn.customer_id)

    async def control(self, turn: Turn) -> None:
        """Opt-out and opt-in (the platform already answered the customer; we record and
        honour it) and edits (recorded for people to read; flows never re-run on an edit)."""
        inbound = turn.inbound
        if inbound.control == "opt_in" and not turn.flags.get("opted_out"):
            # An opt-in word from an identity that never opted out changes nothing; the
            # customer meant it ("YES" is one of Twilio's opt-in words): the flows get it.
            pass
        elif inbound.control in ("opt_out", "opt_in"):
            turn.identity_flags = {"opted_out": inbound.control == "opt_out"}
            turn.flows = False
        elif inbound.edited:
            turn.flows = False

    async def replay(self, turn: Turn) -> None:
        """Run the flows: interruptions, triggers, then the active flow, replayed."""
        if turn.flows:
            outcome = await run_turn(
                turn.app,
                turn.state,
                turn.answer,
                channel=turn.inbound.channel,
                now=self.clock(),
                question_expiry_hours=self.question_expiry_hours,
            )
            turn.outcome = outcome
            turn.replies.extend(outcome.replies)

    async def commit(self, turn: Turn) -> None:
        """Write the turn in one transaction (unless a stage before already did)."""
        if turn.outbox is None:
            turn.outbox = await self._store.commit_turn(turn.write())


class TurnRunner:
    """Runs the pipeline for an inbox row, then does what follows a commit."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        store: Store,
        app: App,
        states: CustomerStates,
        outbox: Outbox,
        signals: Signals,
    ) -> None:
        self.pipeline = pipeline
        self._store = store
        self._app = app
        self._states = states
        self._outbox = outbox
        self._signals = signals

    async def handle(self, row: Accepted) -> None:
        """Handle one inbox row; returns after its effects are committed."""
        inbound = Inbound.from_json(row.payload)
        for _ in range(_RETRIES):
            turn = Turn(row, inbound, self._app)
            try:
                await self.pipeline.run(turn)
            except StatusChanged:
                # People changed the conversation's status while the turn ran (an agent
                # claimed or resolved it): nothing was written; run it again on the new one.
                self._states.forget(row.customer_id)
                continue
            except BaseException:
                if turn.outbox is not None:
                    self._committed(turn)  # a stage after the commit failed: still sent
                raise
            if turn.outbox is None:
                raise RuntimeError(
                    f"inbox {row.inbox_id}: no stage committed the turn (a stage that ends "
                    "a turn early must commit it)"
                )
            self._committed(turn)
            return
        raise RuntimeError(
            f"customer {row.customer_id}: the conversation kept changing hands; retried later"
        )

    async def give_up(self, row: Accepted) -> None:
        """Mark a row that keeps failing as handled, with an apology, so the line moves on."""
        turn = Turn(row, Inbound.from_json(row.payload), self._app)
        turn.state = await self._states.state(row.customer_id)
        turn.flags = await self._states.flags(row.identity_id)  # never to an opted-out number
        turn.flows = False
        turn.replies.append(Prompt(self._app.texts.apology))
        turn.outbox = await self._store.commit_turn(turn.write())
        self._committed(turn)

    def _committed(self, turn: Turn) -> None:
        state = turn.state
        before = state.status
        outcome = turn.outcome
        if outcome is not None:
            state.active_run_id = outcome.active_run_id
            state.active_flow = outcome.active_flow
            state.journal = outcome.active_journal
            if outcome.memory is not None:
                state.memory = outcome.memory
            if outcome.status is not None:
                state.status = outcome.status
        self._states.remember(state)
        if turn.identity_flags is not None:
            self._states.update_flags(turn.row.identity_id, turn.identity_flags)
        if turn.outbox:
            self._outbox.enqueue(turn.outbox)
        self._signals.emit(TurnCommitted(state.customer_id, before, state.status))
