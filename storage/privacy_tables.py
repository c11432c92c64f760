"""Privacy's tables (revision "privacy"): tombstones, the audit trail, export links and
the retention job's claim.

None of them holds personal data: a tombstone is a keyed hash, the audit trail holds ids
(and the IP address of the agent acting, who is not the customer), an export link stores the
SHA-256 of its token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables import _ID, _fk, _pk
from storage.types import JSONText

__all__ = ["AuditEntry", "ExportLink", "JobClaim", "Tombstone"]


class Tombstone(SQLModel, table=True):
    """What is left of an erased identity or message: a keyed hash of its key, never the key.

    `kind` "identity": hash of channel + external id; "message": hash of channel + the
    platform's message id (a redelivered webhook of an erased message is dropped)."""

    __tablename__ = "tombstones"
    __table_args__ = (UniqueConstraint("key_hash", name="uq_tombstone_key"),)
    id: int | None = _pk()
    key_hash: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    created_at: float


class AuditEntry(SQLModel, table=True):
    """Append-only: who read, exported, erased, linked or unlinked what, when, from where."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_customer", "customer_id", "id"),
        Index("ix_audit_created", "created_at"),
    )
    id: int | None = _pk()
    created_at: float
    action: str = Field(max_length=32)
    """"read", "export", "export_link", "erase", "link", "unlink", "consent", "search"."""
    actor: str = Field(max_length=64)
    """"agent:<id>", "token:<id>", "customer", "cli" or "retention"."""
    agent_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    customer_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    """The customer concerned: an id only, kept after an erasure (no foreign key)."""
    conversation_id: int | None = Field(default=None, sa_column=Column(_ID, nullable=True))
    ip: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=32)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONText, nullable=True))
    """Counts and ids only (never text the customer wrote)."""


class ExportLink(SQLModel, table=True):
    """A one-time, expiring link to a customer's data; only the token's SHA-256 is stored."""

    __tablename__ = "export_links"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_export_token"),)
    id: int | None = _pk()
    token_hash: str = Field(max_length=64)
    customer_id: int = _fk("customers.id", index=True)
    created_at: float
    expires_at: float
    used_at: float | None = None


class JobClaim(SQLModel, table=True):
    """A scheduled job claimed by one process at a time, and when it last ran."""

    __tablename__ = "job_claims"
    name: str = Field(primary_key=True, max_length=64)
    owner: str | None = Field(default=None, max_length=64)
    claimed_until: float = 0.0
    last_run_at: float = 0.0
