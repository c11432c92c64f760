"""Turns without a customer message: a sleeping flow woken, a flow started for a customer,
an event handed to the flows. The engine runs them in the customer's line like a message
(see `bot.followup`) and commits the `Outcome` the same way.

A woken or started flow that asks a question becomes the customer's active flow (an open
question of another flow ends "replaced"); one that only talks, sleeps again or finishes
leaves the customer's active flow as it was. While a person holds the conversation the bot
stays quiet: the turn is `deferred` and the engine tries it again later. A conversation an
agent resolved goes back to the bot first (its open question ends "resolved"), as a message
would.

Example:
    >>> outcome = await run_wake(app, state, Wake("start", flow="survey", args={"kind": "csat"}),
    ...                          channel="twilio", now=time.time())
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs._replay import Replay
from dialogs.flows import App, Flow
from dialogs.runtime import SLEEPERS_KEY, Outcome, _Turn
from storage.records import CustomerState, JournalRow
from storage.vocabulary import ConversationStatus

log = logging.getLogger("baton.flows")

__all__ = ["Wake", "WakeOutcome", "event_flows", "run_wake"]


@dataclass(frozen=True, slots=True)
class Wake:
    """What a turn without a message does."""

    kind: str
    """"wake" (a sleeping run), "start" (a flow by name) or "event" (flows with an `Event`
    trigger)."""
    run_id: str | None = None
    seq: int | None = None
    """The `sleep` entry of the run that is over ("wake")."""
    flow: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    event: Mapping[str, Any] | None = None
    """{"id", "name", "data"} ("event")."""


@dataclass(slots=True)
class WakeOutcome:
    """`Outcome` plus whether the turn must be tried later (a person holds the chat)."""

    outcome: Outcome
    deferred: bool = False


def event_flows(app: App, name: str) -> list[Flow]:
    """The flows an event called `name` starts (their `Event` triggers accept it)."""
    found = []
    for f in app.flows:
        for t in f.triggers:
            accepts = getattr(t, "accepts", None)
            if callable(accepts) and accepts(name):
                found.append(f)
                break
    return found


class _Wake(_Turn):
    wake_run: str | None = None
    wake_seq: int | None = None

    def prepare(self, run_id: str, replay: Replay) -> None:
        if run_id == self.wake_run:
            replay.wake_seq = self.wake_seq


async def run_wake(
    app: App,
    state: CustomerState,
    wake: Wake,
    *,
    channel: str,
    now: float,
    run: tuple[str, str, list[JournalRow]] | None = None,
    new_run_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> WakeOutcome:
    """Run a turn without a customer message.

    Args:
        app: the bot's flows.
        state: the customer as last committed; not changed.
        wake: what to do.
        channel: the customer's current channel (`ctx.channel`).
        now: the engine's time (journaled with questions and wake-ups).
        run: for "wake", the sleeping run as stored: (flow name, status, journal).
    """
    turn = _Wake(app, state, {}, channel, new_run_id, now=now, expiry_hours=0)
    out = turn.out
    if turn.status == ConversationStatus.AGENT:
        return WakeOutcome(out, deferred=True)
    if turn.status == ConversationStatus.RESOLVED:
        turn.set_status(ConversationStatus.BOT)
        turn.end_active("resolved")
    before = (out.active_run_id, out.active_flow, list(out.active_journal))
    woken: str | None = None
    if wake.kind == "wake":
        woken = await _wake_run(turn, app, wake, run)
    elif wake.kind == "start":
        f = app.get(wake.flow or "")
        if f is None:
            log.warning("customer %s: no flow %r to start", state.customer_id, wake.flow)
        else:
            woken = await _start(turn, f, {"args": dict(wake.args)})
    elif wake.kind == "event" and wake.event is not None:
        for f in event_flows(app, str(wake.event.get("name", ""))):
            woken = await _start(turn, f, {"event": dict(wake.event)})
            break
    if woken is not None and out.active_run_id == woken:
        # It asks a question: it is the customer's flow now.
        if before[0] is not None and before[0] != woken:
            out.ended_runs.append((before[0], "replaced"))
    elif out.active_run_id is None and before[0] is not None:
        out.active_run_id, out.active_flow, out.active_journal = before
    if turn.memory.changed:
        out.memory = turn.memory.raw()
    return WakeOutcome(out)


async def _start(turn: _Wake, f: Flow, trigger: dict[str, Any]) -> str:
    marker = len(turn.out.new_runs)
    await turn.start(f, trigger)
    return turn.out.new_runs[marker][0]


async def _wake_run(
    turn: _Wake, app: App, wake: Wake, run: tuple[str, str, list[JournalRow]] | None
) -> str | None:
    run_id = wake.run_id
    if run is None or run_id is None or run[1] != "sleeping":
        return None  # cancelled, replaced or merged away meanwhile: nothing to wake
    sleepers = turn.memory.raw().get(SLEEPERS_KEY)
    if isinstance(sleepers, dict) and run_id in sleepers:
        rest = {k: v for k, v in sleepers.items() if k != run_id}
        if rest:
            turn.memory[SLEEPERS_KEY] = rest
        else:
            del turn.memory[SLEEPERS_KEY]
    f = app.get(run[0])
    if f is None:
        log.warning("customer %s: sleeping flow %r is gone", turn.state.customer_id, run[0])
        turn.out.ended_runs.append((run_id, "restarted"))
        return None
    turn.wake_run, turn.wake_seq = run_id, wake.seq
    turn.out.ended_runs.append((run_id, "active"))  # awake; a later end overrides it
    await turn.execute(f, run_id, list(run[2]), None)
    return run_id
