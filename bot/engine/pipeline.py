"""A turn is a pipeline of stages: one inbox row in, state and replies committed together.

Every turn of every customer runs the same stages, in this order, whichever way Baton was
started (`baton run`, `baton shell`, the test kit: all build the engine with
`bot.assembly.build_engine`):

| slot | who | what |
|---|---|---|
| `identify` | engine | the customer's state and the identity's flags (cached) |
| `control` | engine | platform controls (opt-out, opt-in) and edits: recorded, no flow runs |
| `intercept` | features | answer a message before the flows see it (linking codes, ...) |
| `replay` | engine | the flow runtime: interruptions, triggers, the active flow |
| `compose` | features | adjust the replies (a channel switch acknowledged, ...) |
| `route` | features | turns that involve people commit guarded by the status (handoff) |
| `commit` | engine | one transaction: the message, the flow's journal, state, replies |

After the commit the engine updates its cached state, queues the replies in the outbox and
emits `TurnCommitted` (see `bot.engine.signals`): that is the after-commit stage, where
listeners run.

A stage is `async def stage(turn: Turn) -> None`: it reads and fills in the `Turn`. Stages run
one after the other, in slot order (within a slot, in registration order), each deciding from
the turn whether it has work: the flows run only while `turn.flows`, the commit only while
`turn.outbox` is None (a stage that commits, as `route` does, sets it). A turn that is still
uncommitted after the last stage is an error, and the row is tried again. Features register
stages with `EngineBuilder.stage(slot, stage)`.

Work that must wrap a whole turn (timing, a log context, catching what a stage raised) is a
wrapper: `async def wrapper(turn: Turn, run: Next) -> None` that awaits `run()` once,
registered with `EngineBuilder.around(wrapper)`. Stages are not nested in each other: a turn
suspended on the database resumes one frame, not one per stage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from adapters.base import Inbound
from dialogs import App, Outcome
from dialogs.prompts import Prompt
from storage import (
    WAKE_CONTROL,
    Accepted,
    CustomerState,
    OutboxRow,
    ReplyWrite,
    ScheduleWrite,
    TurnWrite,
    reachable,
)

__all__ = ["Next", "Pipeline", "Slot", "Stage", "StatusChanged", "Turn", "Wrapper", "answer_of"]


class Next(Protocol):
    """Runs the turn's stages (what a wrapper awaits)."""

    def __call__(self) -> Awaitable[None]:
        """Run the stages."""
        ...


class Stage(Protocol):
    """One step of a turn: `async def stage(turn)`; see the module docstring."""

    def __call__(self, turn: Turn, /) -> Awaitable[None]:
        """Do this stage's work on `turn`."""
        ...


class Wrapper(Protocol):
    """Wraps a whole turn: `async def wrapper(turn, run)` awaits `run()` once."""

    def __call__(self, turn: Turn, run: Next, /) -> Awaitable[None]:
        """Do what comes before and after the turn's stages, awaiting `run()` for them."""
        ...


class Slot(IntEnum):
    """Where a stage runs in a turn, in order."""

    IDENTIFY = 10
    CONTROL = 20
    INTERCEPT = 30
    REPLAY = 40
    COMPOSE = 50
    ROUTE = 60
    COMMIT = 70


class StatusChanged(Exception):
    """People changed the conversation's status while the turn ran: nothing was written, and
    the engine runs the turn again on the new status."""


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


@dataclass(slots=True)
class Turn:
    """One inbox row on its way through the pipeline; stages read and fill it in."""

    row: Accepted
    inbound: Inbound
    app: App
    state: CustomerState = field(init=False)
    """The customer's state before this turn (set by `identify`)."""
    flags: dict[str, bool] = field(default_factory=dict)
    """The inbound identity's flags: opted_out, unreachable (set by `identify`)."""
    flows: bool = True
    """Whether the flows see this message; a stage that answers it sets this False."""
    replies: list[Prompt] = field(default_factory=list)
    """What the customer is sent, in order."""
    outcome: Outcome | None = None
    """What the flows did (set by `replay` when they ran)."""
    identity_flags: dict[str, bool] | None = None
    """Flags to set on the inbound identity with this turn (opt-out, opt-in)."""
    outbox: list[OutboxRow] | None = None
    """The replies' outbox rows once committed; None until the turn is committed."""
    scheduled: list[ScheduleWrite] = field(default_factory=list)
    """Work to schedule in the customer's line with this turn (besides the flows' timers)."""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Events to record with this turn (besides those the flows emitted)."""
    _answer: dict[str, Any] | None = None

    @property
    def answer(self) -> dict[str, Any]:
        """What a flow sees of the message (`answer_of`), made once per turn."""
        if self._answer is None:
            self._answer = answer_of(self.inbound)
        return self._answer

    @property
    def wake(self) -> bool:
        """True for a turn without a customer message (a timer, a started flow, an event;
        see `bot.followup`): nothing is recorded as said by the customer."""
        return self.inbound.control == WAKE_CONTROL

    @property
    def customer_id(self) -> int:
        """The customer whose line this turn runs on."""
        return self.row.customer_id

    @property
    def before(self) -> str:
        """The conversation's status when the turn started."""
        return self.state.status

    @property
    def after(self) -> str:
        """The conversation's status once the turn is committed."""
        status = self.outcome.status if self.outcome is not None else None
        return status or self.state.status

    @property
    def reachable(self) -> bool:
        """Whether replies may be sent to the inbound identity (else they are recorded)."""
        return reachable(self.flags)

    def reply_to(self, text: str = "", prompt: dict[str, Any] | None = None) -> ReplyWrite:
        """A reply to the identity this message came from, on its channel."""
        inbound = self.inbound
        return ReplyWrite(
            inbound.channel,
            self.row.identity_id,
            inbound.identity,
            inbound.route,
            text,
            prompt if prompt is not None else {},
            send=self.reachable,
        )

    def write(self) -> TurnWrite:
        """Everything this turn changes, for one transaction."""
        inbound = self.inbound
        state = self.state
        payload: dict[str, Any] | None = (
            {**self.answer, "edited": True} if inbound.edited else self.answer
        )
        if self.wake:
            payload = None
        write = TurnWrite(
            inbox_id=self.row.inbox_id,
            customer_id=self.row.customer_id,
            conversation_id=state.conversation_id,
            identity_id=self.row.identity_id,
            channel=inbound.channel,
            inbound_text=inbound.text,
            inbound_payload=payload,
            inbound_platform_id=inbound.message_id,
            active_run_id=state.active_run_id,
            replies=[self.reply_to(p.text, p.to_json()) for p in self.replies],
            identity_flags=self.identity_flags,
            scheduled=list(self.scheduled),
            events=list(self.events),
        )
        outcome = self.outcome
        if outcome is not None:
            write.new_runs = outcome.new_runs
            write.ended_runs = outcome.ended_runs
            write.journal = outcome.journal
            write.active_run_id = outcome.active_run_id
            write.memory = outcome.memory
            write.status = outcome.status
            write.handoff_reason = outcome.handoff_reason
            write.cancel_timers = list(outcome.cancelled_timers)
            write.events.extend(outcome.events)
            write.scheduled.extend(
                ScheduleWrite(
                    self.row.customer_id,
                    "wake",
                    timer.until,
                    run_id=timer.run_id,
                    flow=timer.flow,
                    payload={"seq": timer.seq},
                    key=f"wake:{timer.run_id}:{timer.seq}",
                )
                for timer in outcome.timers
            )
        return write


class Pipeline:
    """The stages of a turn, in slot order, and the wrappers around them; built once (see
    `bot.engine.builder`)."""

    def __init__(
        self, stages: Sequence[tuple[Slot, Stage]], wrappers: Sequence[Wrapper] = ()
    ) -> None:
        ordered = sorted(enumerate(stages), key=lambda item: (item[1][0], item[0]))
        self._stages: tuple[Stage, ...] = tuple(stage for _, (_, stage) in ordered)
        self._wrappers = tuple(wrappers)
        self.names: tuple[str, ...] = tuple(
            f"{slot.name.lower()}: {_name(stage)}" for _, (slot, stage) in ordered
        )
        """The stages in the order they run, as "slot: name" (for docs and tests)."""

    async def run(self, turn: Turn) -> None:
        """Run every stage on `turn`, inside the wrappers (the first registered outermost)."""
        if not self._wrappers:
            for stage in self._stages:
                await stage(turn)
            return
        await self._wrapped(turn, 0)

    async def _wrapped(self, turn: Turn, index: int) -> None:
        if index == len(self._wrappers):
            for stage in self._stages:
                await stage(turn)
            return
        await self._wrappers[index](turn, lambda: self._wrapped(turn, index + 1))


def _name(stage: Stage) -> str:
    owner = getattr(stage, "__self__", None)
    name = getattr(stage, "__name__", type(stage).__name__)
    if owner is not None:
        return f"{type(owner).__module__}.{type(owner).__name__}.{name}"
    return f"{getattr(stage, '__module__', '?')}.{name}"
