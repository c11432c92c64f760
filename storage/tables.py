"""The tables, as SQLModel models. Times are Unix seconds (float), identical on every backend.

A customer is the person; identities are where they can be reached (channel + external id);
the conversation, memory and flow journal belong to the customer, never to a channel.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import JSONText, SafeText

__all__ = [
    "Agent",
    "AgentNote",
    "AgentSession",
    "ApiToken",
    "CannedReply",
    "ConsentRecord",
    "Conversation",
    "Customer",
    "FlowRun",
    "Handoff",
    "HandoffEvent",
    "Identity",
    "InboxItem",
    "InstallSecret",
    "JournalEntry",
    "LinkCode",
    "LinkThrottle",
    "MergeLog",
    "Message",
    "OutboxItem",
    "PhoneProof",
    "metadata",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")


def _pk() -> Any:
    return Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))


def _fk(target: str, *, nullable: bool = False, index: bool = False) -> Any:
    from sqlalchemy import ForeignKey

    return Field(
        default=None,
        sa_column=Column(_ID, ForeignKey(target), nullable=nullable, index=index),
    )


class Customer(SQLModel, table=True):
    """A person, whatever channels they write from."""

    __tablename__ = "customers"
    id: int | None = _pk()
    created_at: float
    last_seen_at: float
    memory: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONText, nullable=False)
    )
    """What the customer told the bot once (`remember=`), used on every channel."""
    conversation_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    active_run_id: str | None = Field(default=None, max_length=32)
    last_identity_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    lease_owner: str | None = Field(default=None, max_length=64)
    """The process handling this customer's messages now (PostgreSQL, many processes)."""
    lease_until: float | None = None


class Identity(SQLModel, table=True):
    """Where a customer can be reached: a channel and the platform's id of them."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity"),)
    id: int | None = _pk()
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=255)
    customer_id: int = _fk("customers.id", index=True)
    route: str | None = Field(default=None, max_length=255)
    display_name: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    unreachable: bool = False
    """The platform said this identity cannot be reached (blocked the bot)."""
    opted_out: bool = False
    """The customer opted out on this channel (SMS STOP): nothing is sent until they opt in."""
    created_at: float
    last_seen_at: float


class Conversation(SQLModel, table=True):
    """The customer's conversation and who holds it: bot, waiting, agent, resolved."""

    __tablename__ = "conversations"
    id: int | None = _pk()
    customer_id: int = _fk("customers.id", index=True)
    status: str = Field(default="bot", max_length=16)
    status_at: float
    handoff_reason: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    created_at: float


class Message(SQLModel, table=True):
    """Every message in either direction, on any channel."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_customer", "customer_id", "id"),
        Index("ix_messages_platform", "channel", "platform_message_id"),
    )
    id: int | None = _pk()
    customer_id: int = _fk("customers.id")
    conversation_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    direction: str = Field(max_length=3)
    """"in" or "out"."""
    author: str = Field(max_length=16)
    """"customer", "bot", "agent" or "system"."""
    channel: str = Field(max_length=32)
    identity_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    text: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONText, nullable=True))
    platform_message_id: str | None = Field(default=None, max_length=255)
    delivery_status: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    created_at: float


class InboxItem(SQLModel, table=True):
    """An inbound message, committed before the webhook is acknowledged."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "platform_message_id", name="uq_inbox_platform_id"),
        Index("ix_inbox_pending", "customer_id", "processed_at", "id"),
        # The rows waiting, for the sweep: as small as the backlog (revision 0004).
        Index(
            "ix_inbox_unprocessed",
            "id",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
    )
    id: int | None = _pk()
    channel: str = Field(max_length=32)
    platform_message_id: str = Field(max_length=255)
    customer_id: int = _fk("customers.id")
    identity_id: int = _fk("identities.id")
    payload: dict[str, Any] = Field(sa_column=Column(JSONText, nullable=False))
    received_at: float
    processed_at: float | None = None


class OutboxItem(SQLModel, table=True):
    """A reply waiting to leave, or what happened when it tried."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = _pk()
    customer_id: int = _fk("customers.id", index=True)
    message_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    channel: str = Field(max_length=32)
    identity_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    external_id: str = Field(max_length=255)
    route: str | None = Field(default=None, max_length=255)
    payload: dict[str, Any] = Field(sa_column=Column(JSONText, nullable=False))
    status: str = Field(default="pending", max_length=16)
    """"pending", "sent" or "failed"."""
    attempts: int = 0
    next_attempt_at: float
    last_error: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_until: float | None = None
    created_at: float
    sent_at: float | None = None


class FlowRun(SQLModel, table=True):
    """One run of a flow for a customer; its journal makes it durable."""

    __tablename__ = "flow_runs"
    id: str = Field(primary_key=True, max_length=32)
    customer_id: int = _fk("customers.id", index=True)
    flow: str = Field(max_length=255)
    status: str = Field(default="active", max_length=16)
    """"active", "done", "cancelled", "failed" or "restarted"."""
    started_at: float
    ended_at: float | None = None


class JournalEntry(SQLModel, table=True):
    """One effect of a flow run: an answer, a step result, a message said."""

    __tablename__ = "flow_journal"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_journal_seq"),)
    id: int | None = _pk()
    run_id: str = Field(foreign_key="flow_runs.id", max_length=32)
    seq: int
    kind: str = Field(max_length=16)
    key: str = Field(sa_column=Column(SafeText, nullable=False))
    value: Any = Field(default=None, sa_column=Column(JSONText, nullable=True))
    created_at: float


metadata = SQLModel.metadata


# --- Live-agent handoff and the agent console (revision 0002) --------------------------------
#
# A conversation's status is "bot", "waiting", "agent" (an agent holds it) or "resolved". Each
# time it leaves the bot a `Handoff` row records that episode: why, the summary the agent
# reads, the reply-by deadline, who holds it, and how it ended. `HandoffEvent` is the audit
# trail (claims, assignments, breaches), also read by the console's live updates.


class Agent(SQLModel, table=True):
    """A person who answers customers in the console."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("email", name="uq_agent_email"),)
    id: int | None = _pk()
    email: str = Field(max_length=320)
    """Lower-cased."""
    name: str = Field(sa_column=Column(SafeText, nullable=False))
    role: str = Field(default="agent", max_length=16)
    """"agent" or "admin"."""
    password_hash: str = Field(max_length=255)
    """argon2id, in PHC string format."""
    active: bool = True
    failed_logins: int = 0
    locked_until: float | None = None
    created_at: float
    last_login_at: float | None = None


class AgentSession(SQLModel, table=True):
    """A server-side login session; the cookie holds a token whose SHA-256 is the id."""

    __tablename__ = "agent_sessions"
    id: str = Field(primary_key=True, max_length=64)
    agent_id: int = _fk("agents.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API, created by an admin; it acts as `agent_id`."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_token_hash"),)
    id: int | None = _pk()
    token_hash: str = Field(max_length=64)
    agent_id: int = _fk("agents.id", index=True)
    created_by: int = _fk("agents.id")
    name: str = Field(sa_column=Column(SafeText, nullable=False))
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None


class Handoff(SQLModel, table=True):
    """One episode of a conversation with people: from waiting until it ends."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status", "status", "created_at"),
        Index("ix_handoffs_customer", "customer_id", "id"),
        Index("ix_handoffs_conversation", "conversation_id", "id"),
        Index("ix_handoffs_claimed", "claimed_at"),
    )
    id: int | None = _pk()
    customer_id: int = _fk("customers.id")
    conversation_id: int = _fk("conversations.id")
    status: str = Field(default="waiting", max_length=16)
    """"waiting", "agent" while open; then "resolved", "handed_back", "cancelled" or "left"."""
    trigger: str = Field(default="customer", max_length=32)
    """"customer" (asked for a person), "flow" (ctx.handoff) or "misunderstood"."""
    reason: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    summary: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONText, nullable=False)
    )
    created_at: float
    """When it started waiting."""
    position_at_entry: int = 1
    deadline_at: float
    """The first human reply is promised by then (business hours counted)."""
    assigned_to: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    """An agent it is reserved for while waiting."""
    agent_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    """The agent who holds it."""
    claimed_at: float | None = None
    first_reply_at: float | None = None
    breached_at: float | None = None
    ended_at: float | None = None
    ended_by: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    told_position: int | None = None
    told_wait: float | None = None
    told_at: float | None = None


class HandoffEvent(SQLModel, table=True):
    """Something that happened to a handoff: waiting, claimed, assigned, breached, resolved."""

    __tablename__ = "handoff_events"
    __table_args__ = (Index("ix_handoff_events_conversation", "conversation_id", "id"),)
    id: int | None = _pk()
    handoff_id: int = _fk("handoffs.id", index=True)
    customer_id: int = _fk("customers.id")
    conversation_id: int = _fk("conversations.id")
    kind: str = Field(max_length=32)
    agent_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONText, nullable=True))
    created_at: float


class AgentNote(SQLModel, table=True):
    """An internal note on a customer; the customer never sees it."""

    __tablename__ = "agent_notes"
    __table_args__ = (Index("ix_agent_notes_customer", "customer_id", "id"),)
    id: int | None = _pk()
    customer_id: int = _fk("customers.id")
    handoff_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    agent_id: int = _fk("agents.id")
    text: str = Field(sa_column=Column(SafeText, nullable=False))
    created_at: float


class CannedReply(SQLModel, table=True):
    """A reply agents insert with one click."""

    __tablename__ = "canned_replies"
    id: int | None = _pk()
    title: str = Field(sa_column=Column(SafeText, nullable=False))
    text: str = Field(sa_column=Column(SafeText, nullable=False))
    created_by: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    created_at: float


# --- One customer across channels: linking and merges (revision 0003) -----------------------
#
# `LinkCode` is a one-time code a customer asked for on one channel to link another; only its
# keyed hash is stored. `LinkThrottle` counts wrong codes per identity. `PhoneProof` is an E.164
# number a channel proved belongs to an identity (a Telegram contact share of the sender's own
# contact), so that number's SMS identity joins that customer. `MergeLog` is append-only: every
# merge and unlink, with exactly what moved, so an unlink can move it back.


class LinkCode(SQLModel, table=True):
    """A one-time linking code: single use, short-lived, stored as a keyed hash."""

    __tablename__ = "link_codes"
    __table_args__ = (
        UniqueConstraint("code_hash", name="uq_link_code_hash"),
        Index("ix_link_codes_selector", "selector_hash"),
    )
    id: int | None = _pk()
    selector_hash: str = Field(max_length=64)
    """Keyed hash of the code's first half: finds the code, so wrong tries count against it."""
    code_hash: str = Field(max_length=64)
    """Keyed hash of the whole code, compared in constant time."""
    customer_id: int = _fk("customers.id", index=True)
    identity_id: int = _fk("identities.id", index=True)
    created_at: float
    expires_at: float
    used_at: float | None = None
    used_by: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    failures: int = 0
    """Wrong codes entered while this code was open (per-code limit: then it is burned)."""


class InstallSecret(SQLModel, table=True):
    """Secrets generated once per installation (the key of linking-code hashes)."""

    __tablename__ = "install_secrets"
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)
    created_at: float


class LinkThrottle(SQLModel, table=True):
    """Wrong linking codes entered by one identity in the current window."""

    __tablename__ = "link_throttle"
    identity_id: int | None = Field(
        default=None, sa_column=Column(_ID, primary_key=True, autoincrement=False)
    )
    failures: int = 0
    window_start: float
    locked_until: float | None = None


class PhoneProof(SQLModel, table=True):
    """A phone number proven to belong to an identity (Telegram: own contact shared)."""

    __tablename__ = "phone_proofs"
    __table_args__ = (UniqueConstraint("phone", name="uq_phone_proof"),)
    id: int | None = _pk()
    phone: str = Field(max_length=32)
    """E.164."""
    identity_id: int = _fk("identities.id", index=True)
    created_at: float


class MergeLog(SQLModel, table=True):
    """Append-only record of merges and unlinks and what each moved."""

    __tablename__ = "merge_log"
    __table_args__ = (Index("ix_merge_log_customer", "customer_id", "id"),)
    id: int | None = _pk()
    kind: str = Field(max_length=16)
    """"merge" or "unlink"."""
    customer_id: int = _fk("customers.id")
    """The customer that stays (merge) or that the identity leaves (unlink)."""
    other_customer_id: int = _fk("customers.id")
    """The customer merged in (merge) or restored / created (unlink)."""
    proof: str = Field(max_length=32)
    """"contact_share", "code", "deep_link", "phone_proof" or "admin"."""
    actor: str | None = Field(default=None, max_length=64)
    moved: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONText, nullable=False))
    created_at: float


class ConsentRecord(SQLModel, table=True):
    """Append-only: a customer's answer to "may we ... for this purpose?", or its withdrawal.

    The newest row per (customer, purpose) is the consent in force. `text` is the exact
    question the customer saw (with its reason), so the record shows what was agreed to.
    """

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_customer", "customer_id", "purpose", "id"),)
    id: int | None = _pk()
    customer_id: int = _fk("customers.id")
    purpose: str = Field(max_length=32)
    granted: bool
    channel: str | None = Field(default=None, max_length=32)
    """The channel the answer came on (None: given by an admin or the API)."""
    source: str = Field(max_length=16)
    """"customer" (answered in a conversation), "console", "api" or "import"."""
    actor: str | None = Field(default=None, max_length=64)
    """Who recorded it when not the customer: an agent's login or an API token's name."""
    text: str = Field(default="", sa_column=Column(SafeText, nullable=False))
    """What the customer was shown (question and reason), or the withdrawal message."""
    created_at: float


# Tables of features, in modules of their own (imported here so the metadata holds them).
from storage.media_tables import MediaFile  # noqa: E402

__all__ += ["MediaFile"]

# --- Follow-up: scheduled work, events, surveys (revision "followup") -----------------------
from storage.followup_tables import (  # noqa: E402  (registers the tables in `metadata`)
    EventDelivery,
    EventItem,
    ScheduledItem,
    SurveyAnswer,
)

__all__ += ["EventDelivery", "EventItem", "ScheduledItem", "SurveyAnswer"]

# Privacy (revision "privacy"): imported last so the metadata holds its tables.
import storage.privacy_tables  # noqa: E402, F401
