"""Talk to an `App` through the flow runtime alone: no server, no channel, no database.

`MemoryChat` calls `dialogs.run_turn` as the engine does and keeps what the engine would
commit (the customer's state, the journal rows of each run, how each run ended) in memory.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from dialogs import App, Outcome, Prompt, pending_prompt, run_turn
from storage import CustomerState, JournalRow


class MemoryChat:
    """One customer talking to `app`, turn by turn, with their state kept in memory."""

    def __init__(self, app: App, *, channel: str = "web", customer_id: int = 1) -> None:
        self.app = app
        self.channel = channel
        self.state = CustomerState(customer_id, conversation_id=1, status="bot", memory={})
        self.outcome = Outcome()
        """The last turn's outcome."""
        self.started: dict[str, str] = {}
        """The flow of each run started, by run id."""
        self.ended: dict[str, str] = {}
        """How each run ended ("done", "cancelled", "failed", ...), by run id."""
        self.rows: dict[str, list[JournalRow]] = {}
        """The journal rows committed for each run."""
        self._ids = itertools.count(1)

    async def send(
        self,
        text: str | None = None,
        *,
        choice: str | None = None,
        now: float | None = None,
        **more: Any,
    ) -> list[str]:
        """Send a message (at `now`, seconds since the epoch, as the engine passes the time);
        returns the texts of the replies."""
        incoming: dict[str, Any] = dict(more)
        if text is not None:
            incoming["text"] = text
        if choice is not None:
            incoming["choice"] = choice
        outcome = await run_turn(
            self.app,
            self.state,
            incoming,
            channel=self.channel,
            new_run_id=lambda: f"run-{next(self._ids)}",
            now=now,
        )
        self._commit(outcome)
        return [reply.text for reply in outcome.replies]

    def _commit(self, outcome: Outcome) -> None:
        # What the engine commits of a turn (bot.engine.turns), kept in memory.
        self.outcome = outcome
        self.started.update(outcome.new_runs)
        for run_id, row in outcome.journal:
            self.rows.setdefault(run_id, []).append(row)
        self.ended.update(outcome.ended_runs)
        self.state = CustomerState(
            self.state.customer_id,
            self.state.conversation_id,
            status=outcome.status or self.state.status,
            memory=self.state.memory if outcome.memory is None else outcome.memory,
            active_run_id=outcome.active_run_id,
            active_flow=outcome.active_flow,
            journal=outcome.active_journal,
        )

    def restart(self) -> None:
        """Forget everything but what was committed, through JSON, as a new process would."""

        def stored(value: Any) -> Any:
            return json.loads(json.dumps(value))

        run = self.state.active_run_id
        self.state = CustomerState(
            self.state.customer_id,
            self.state.conversation_id,
            status=self.state.status,
            memory=stored(self.state.memory),
            active_run_id=run,
            active_flow=self.state.active_flow,
            journal=[
                JournalRow(r.seq, r.kind, r.key, stored(r.value))
                for r in (self.rows.get(run, []) if run is not None else [])
            ],
        )

    @property
    def question(self) -> Prompt | None:
        """The question the customer has open."""
        return pending_prompt(self.state.journal)
