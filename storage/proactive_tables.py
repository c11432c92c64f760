"""Tables of proactive messages and campaigns (revision "proactive").

`ProactiveMessage` is one message Baton sends first (not a reply): from `engine.notify`, the
API, `baton send` or a campaign. It is written before anything is sent and holds what became
of it: queued (its outbox row and message carry the delivery), or skipped with the reason.
For a campaign it is the recipient's row, unique per (campaign, customer): a campaign resumed
after a kill never writes a second message for anyone. `Campaign` is one message to a segment
(or one flow, started per recipient: its payload is {"flow": name, "args": {...}}).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables import _ID, _fk, _pk
from storage.types import JSONText, SafeText

__all__ = ["Campaign", "ProactiveMessage"]


class Campaign(SQLModel, table=True):
    """One message to a segment of customers, sent throttled per channel."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_status", "status", "id"),)
    id: int | None = _pk()
    name: str = Field(sa_column=Column(SafeText, nullable=False))
    purpose: str = Field(max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JSONText, nullable=False))
    """The prompt (text, choices), as `Prompt.to_json` writes it."""
    segment: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONText, nullable=False)
    )
    """Who it goes to: {"consent": purpose, "memory": {key: value}, "seen_before": t, ...}."""
    status: str = Field(default="running", max_length=16)
    """"running" (recipients being queued), "done" or "cancelled"."""
    total: int = 0
    """Recipients selected when it started."""
    created_by: str | None = Field(default=None, max_length=64)
    created_at: float
    finished_at: float | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    """The process queueing its recipients now (a lease, renewed while it runs)."""
    claim_until: float | None = None


class ProactiveMessage(SQLModel, table=True):
    """A message Baton sends first, and what became of it (queued or skipped, and why)."""

    __tablename__ = "proactive_messages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", name="uq_proactive_campaign_customer"),
        Index("ix_proactive_customer", "customer_id", "id"),
        Index("ix_proactive_campaign", "campaign_id", "status", "channel", "id"),
        Index("ix_proactive_outbox", "outbox_id"),
    )
    id: int | None = _pk()
    customer_id: int = _fk("customers.id")
    campaign_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    purpose: str = Field(max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JSONText, nullable=False))
    status: str = Field(default="pending", max_length=16)
    """"pending" (a campaign recipient not yet queued), "queued" (its outbox row is written),
    "sending" (admitted to the platform call; the message's delivery status tells the rest),
    "skipped" (never sent: `reason`), "uncertain" (its process died mid-send: not sent
    again) or "started" (a flow campaign's flow was started for the customer)."""
    reason_code: str | None = Field(default=None, max_length=32)
    """Why it was skipped: "opted_out", "unreachable", "no_consent", "consent_withdrawn",
    "no_channel", "no_customer", "cancelled" or "uncertain"."""
    reason: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    channel: str | None = Field(default=None, max_length=32)
    """The channel chosen (for a pending campaign recipient: the one planned)."""
    identity_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    message_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    outbox_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    sending_by: str | None = Field(default=None, max_length=64)
    """The process that marked it "sending" (a retry by the same process is not uncertain)."""
    sending_attempts: int | None = None
    """The outbox row's recorded attempts when it was marked: unchanged after a kill means the
    outcome of that attempt was never recorded."""
    source: str = Field(max_length=16)
    """"engine" (`engine.notify`), "api", "cli" or "campaign"."""
    actor: str | None = Field(default=None, max_length=64)
    created_at: float
    updated_at: float


# Erasure and export (storage.personal_data): a customer's proactive messages; the row's status
# stays (a campaign's counts), what was sent to them goes.
from storage.personal_data import NOT_CUSTOMER_DATA, PersonalTable, declare  # noqa: E402

declare(
    PersonalTable(
        "proactive_messages",
        erase="blank",
        blank=(("payload", {}),),
        export="proactive_messages",
        why="messages sent first and why any was skipped; the status stays for campaign counts",
    )
)
NOT_CUSTOMER_DATA["campaigns"] = "what a campaign sends and to which segment: written by staff"
