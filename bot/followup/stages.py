"""Follow-up's stages of a turn.

- `control`: a turn without a customer message (`Turn.wake`) skips the message flows;
- `replay`: it runs instead as `dialogs.run_wake` (a sleeping run woken, a flow started, an
  event for the flows); while a person holds the conversation it is scheduled again later;
- `compose`: a flow that finished becomes a `flow.completed` event (what "bot-contained"
  surveys follow), recorded with the turn while a listener, webhook or flow wants it.
"""

from __future__ import annotations

from typing import Any

from bot.engine.pipeline import Turn
from bot.engine.turns import CoreStages
from dialogs import Wake, run_wake
from storage import FollowupStore, ScheduleWrite

__all__ = ["DEFER_SECONDS", "FollowupStages"]

DEFER_SECONDS = 300.0
"""A wake-up that falls due while a person holds the conversation is tried this much later."""


class FollowupStages:
    """The stages (see the module docstring)."""

    def __init__(self, store: FollowupStore, core: CoreStages) -> None:
        self._store = store
        self._core = core  # its `clock` is read at each turn: tests move it
        self.committing: set[int] = set()
        """Customers whose turn in flight records events (the dispatcher looks after it)."""
        self.record_completed = True
        """Whether `flow.completed` is recorded: only while some target wants it (one per
        finished flow would otherwise fill the events table for nobody)."""

    async def control(self, turn: Turn) -> None:
        """A wake-up is no message for the flows."""
        if turn.wake:
            turn.flows = False

    async def replay(self, turn: Turn) -> None:
        """Run a wake-up turn."""
        if not turn.wake:
            return
        raw = turn.inbound.raw
        kind = str(raw.get("kind"))
        payload: dict[str, Any] = dict(raw.get("payload") or {})
        run_id = raw.get("run_id")
        run = None
        if kind == "wake" and run_id:
            record = await self._store.run(str(run_id))
            if record is not None:
                run = (record.flow, record.status, record.journal)
        now = self._core.clock()
        result = await run_wake(
            turn.app,
            turn.state,
            Wake(
                kind,
                run_id=run_id,
                seq=payload.get("seq"),
                flow=raw.get("flow"),
                args=payload.get("args") or {},
                event=payload.get("event"),
            ),
            channel=turn.inbound.channel,
            now=now,
            run=run,
        )
        if result.deferred:
            turn.scheduled.append(
                ScheduleWrite(
                    turn.customer_id,
                    kind,
                    now + DEFER_SECONDS,
                    run_id=run_id,
                    flow=raw.get("flow"),
                    payload=payload,
                )
            )
            return
        turn.outcome = result.outcome
        turn.replies.extend(result.outcome.replies)

    def clock(self) -> float:
        """The engine's time."""
        return self._core.clock()

    async def compose(self, turn: Turn) -> None:
        """Record finished flows as `flow.completed` events."""
        outcome = turn.outcome
        if outcome is None:
            return
        for run_id, status in outcome.ended_runs:
            if status != "done" or not self.record_completed:
                continue
            name = dict(outcome.new_runs).get(run_id)
            if name is None and run_id == turn.state.active_run_id:
                name = turn.state.active_flow
            if name is None and turn.wake and run_id == turn.inbound.raw.get("run_id"):
                name = turn.inbound.raw.get("flow")
            turn.events.append(
                (
                    "flow.completed",
                    {
                        "flow": name,
                        "run_id": run_id,
                        "conversation_id": turn.state.conversation_id,
                        "channel": turn.inbound.channel,
                    },
                )
            )
        if turn.events or outcome.events:
            self.committing.add(turn.customer_id)
