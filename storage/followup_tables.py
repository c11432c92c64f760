"""The tables of follow-up (revision "followup"): scheduled work in a customer's line,
durable events and their deliveries, and survey answers.

- `ScheduledItem`: something to run in a customer's line at a time: a sleeping flow to wake
  ("wake"), a flow to start ("start") or an event for the flows ("event"). When due it becomes
  an inbox row of the customer (dedupe key "baton:<id>"), handled by the same claim and commit
  path as a message, so it runs once, in order with the customer's messages.
- `EventItem`: what happened (conversation.resolved, handoff.started, ...), written in the
  transaction of what caused it; `EventDelivery`: one row per event and target (a flow
  trigger, a Python listener, a webhook URL), marked delivered once it was handled.
- `SurveyAnswer`: one survey asked, and its answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import JSONText, SafeText

__all__ = ["EventDelivery", "EventItem", "ScheduledItem", "SurveyAnswer"]

_ID = BigInteger().with_variant(Integer(), "sqlite")


def _pk() -> Any:
    return Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))


def _customer() -> Any:
    return Field(default=None, sa_column=Column(_ID, ForeignKey("customers.id"), nullable=False))


class ScheduledItem(SQLModel, table=True):
    """Work due in a customer's line at `due_at`: wake a sleeping flow, start a flow, or
    hand an event to the flows."""

    __tablename__ = "scheduled"
    __table_args__ = (
        UniqueConstraint("key", name="uq_scheduled_key"),
        Index("ix_scheduled_customer", "customer_id", "id"),
        # What the poller reads: only the pending rows, by due time.
        Index(
            "ix_scheduled_due",
            "due_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
    id: int | None = _pk()
    customer_id: int = _customer()
    kind: str = Field(max_length=16)
    """"wake", "start" or "event"."""
    key: str | None = Field(default=None, max_length=255)
    """An idempotency key: a second row with the same key is not made."""
    run_id: str | None = Field(default=None, max_length=32, index=True)
    """The sleeping run to wake ("wake")."""
    flow: str | None = Field(default=None, max_length=255)
    """The flow to start ("start"), or the sleeping run's flow ("wake")."""
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONText, nullable=False)
    )
    due_at: float
    status: str = Field(default="pending", max_length=16)
    """"pending", "fired" (in the customer's line), "cancelled" or "failed"."""
    inbox_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    reason: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    """Why it was cancelled or failed."""
    created_at: float
    fired_at: float | None = None


class EventItem(SQLModel, table=True):
    """Something that happened to a customer, recorded with what caused it."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer", "customer_id", "id"),
        Index(
            "ix_events_unrouted",
            "id",
            sqlite_where=text("routed = 0"),
            postgresql_where=text("routed = false"),
        ),
    )
    id: int | None = _pk()
    customer_id: int = _customer()
    name: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONText, nullable=False))
    routed: bool = False
    """Whether its deliveries were made (one per target)."""
    created_at: float


class EventDelivery(SQLModel, table=True):
    """One event to one target, with its attempts: the delivery log."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "target", name="uq_delivery_target"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_customer", "customer_id", "id"),
    )
    id: int | None = _pk()
    event_id: int = Field(sa_column=Column(_ID, ForeignKey("events.id"), nullable=False))
    customer_id: int = _customer()
    target: str = Field(max_length=512)
    """"flows", "listener:<name>" or "webhook:<url>"."""
    status: str = Field(default="pending", max_length=16)
    """"pending", "delivered" or "failed" (gave up)."""
    attempts: int = 0
    next_attempt_at: float
    last_error: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    response_status: int | None = None
    """The HTTP status a webhook answered last."""
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_until: float | None = None
    delivered_at: float | None = None
    created_at: float


class SurveyAnswer(SQLModel, table=True):
    """A survey asked of a customer (CSAT, CES, NPS) and its answer."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_customer", "customer_id", "id"),)
    id: int | None = _pk()
    customer_id: int = _customer()
    event_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True, unique=True))
    """The survey.answered event it was recorded from (recorded once)."""
    conversation_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    agent_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    flow: str | None = Field(default=None, max_length=255)
    """The flow the survey followed (bot-contained), if any."""
    channel: str = Field(max_length=32)
    kind: str = Field(max_length=8)
    """"csat" (1-5), "ces" (1-7) or "nps" (0-10)."""
    score: int
    comment: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    after: str = Field(default="agent", max_length=16)
    """What it followed: "agent" (resolved by a person) or "bot" (contained by the bot)."""
    created_at: float


# Erasure and export (storage.personal_data). Deliveries before their events (deletion order).
from storage.personal_data import PersonalTable, declare  # noqa: E402

declare(
    PersonalTable("scheduled", export="scheduled", why="timers and flows due for the customer")
)
declare(PersonalTable("events", export="events", why="what happened in the customer's contacts"))
declare(
    PersonalTable("event_deliveries", why="delivery marks of the customer's events"),
    before="events",
)
declare(
    PersonalTable(
        "survey_answers",
        erase="blank",
        blank=(("comment", None),),
        export="surveys",
        why="scores stay as anonymous counts; the comment is the customer's text and goes",
    )
)
