"""Plain values passed between the engine and the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Accepted",
    "Claim",
    "CustomerState",
    "JournalRow",
    "MessageRow",
    "NewInbound",
    "OutboxRow",
    "ReplyWrite",
    "ScheduleWrite",
    "TurnWrite",
]


@dataclass(frozen=True, slots=True)
class NewInbound:
    """An inbound message to put in the inbox."""

    channel: str
    message_id: str
    external_id: str
    payload: Mapping[str, Any]
    route: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An inbox row that was new: committed, not yet processed."""

    inbox_id: int
    customer_id: int
    identity_id: int
    payload: Mapping[str, Any]
    new_customer: CustomerState | None = None
    """Set on the first row of a customer that accepting it created: their state, as empty as
    a turn would read it (so the first turn needs no read), and their one identity has no
    flags set."""


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One recorded effect of a flow run."""

    seq: int
    kind: str
    key: str
    value: Any


@dataclass(slots=True)
class CustomerState:
    """What a turn needs to know about a customer: never the whole history."""

    customer_id: int
    conversation_id: int
    status: str
    memory: dict[str, Any]
    active_run_id: str | None = None
    active_flow: str | None = None
    journal: list[JournalRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReplyWrite:
    """An outbound message a turn produced."""

    channel: str
    identity_id: int | None
    external_id: str
    route: str | None
    text: str
    prompt: Mapping[str, Any]
    author: str = "bot"
    send: bool = True
    """False records the message without sending it, as "not sent" with the reason of
    `storage.outbound.UNSENT_REASON`: pass `storage.reachable(flags)` of the identity."""


@dataclass(slots=True)
class TurnWrite:
    """Everything one turn changes, committed in one transaction."""

    inbox_id: int | None
    customer_id: int
    conversation_id: int
    identity_id: int | None
    channel: str
    inbound_text: str | None = None
    inbound_payload: Mapping[str, Any] | None = None
    inbound_platform_id: str | None = None
    replies: list[ReplyWrite] = field(default_factory=list)
    new_runs: list[tuple[str, str]] = field(default_factory=list)
    """(run_id, flow name) of runs started in this turn."""
    ended_runs: list[tuple[str, str]] = field(default_factory=list)
    """(run_id, final status) of runs that ended."""
    journal: list[tuple[str, JournalRow]] = field(default_factory=list)
    active_run_id: str | None = None
    memory: dict[str, Any] | None = None
    """The new memory, or None when unchanged."""
    status: str | None = None
    """A new conversation status, or None when unchanged."""
    handoff_reason: str | None = None
    identity_flags: dict[str, bool] | None = None
    """e.g. {"opted_out": True} for the inbound identity."""
    scheduled: list[ScheduleWrite] = field(default_factory=list)
    """Work to schedule in the customer's line (a sleeping flow's wake-up; `bot.followup`)."""
    cancel_timers: list[str] = field(default_factory=list)
    """Runs whose pending wake-ups are cancelled (the customer wrote; `bot.followup`)."""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Events to record with the turn: (name, data)."""


@dataclass(frozen=True, slots=True)
class ScheduleWrite:
    """Work to run in a customer's line at `due_at` (see `storage.followup_tables`)."""

    customer_id: int
    kind: str
    """"wake" (a sleeping run), "start" (a flow) or "event" (an event for the flows)."""
    due_at: float
    run_id: str | None = None
    flow: str | None = None
    payload: Mapping[str, Any] | None = None
    key: str | None = None
    """An idempotency key: a second row with the same key is not made."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A reply to send."""

    id: int
    customer_id: int
    message_id: int | None
    channel: str
    identity_id: int | None
    external_id: str
    route: str | None
    payload: Mapping[str, Any]
    attempts: int = 0
    next_attempt_at: float = 0.0


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A stored message, as read back for people (console, tests, web chat history)."""

    id: int
    customer_id: int
    direction: str
    author: str
    channel: str
    text: str | None
    payload: Mapping[str, Any] | None
    delivery_status: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Claim:
    """A customer's line, taken: their unhandled rows in order and their current state."""

    rows: list[Accepted]
    state: CustomerState
