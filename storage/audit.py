"""The audit trail: who read a conversation, exported, erased, linked or unlinked, when and
from where. Append-only: there is no update or delete here, and erasure keeps it (ids only)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select

from storage.tables import metadata

__all__ = ["ACTIONS", "AuditRow", "entries", "record"]

_audit: Table = metadata.tables["audit_log"]

ACTIONS = frozenset(
    {
        "read",
        "search",
        "export",
        "export_link",
        "export_download",
        "erase",
        "erase_asked",
        "link",
        "unlink",
        "consent",
        "retention",
    }
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One entry of the audit trail."""

    id: int
    created_at: float
    action: str
    actor: str
    agent_id: int | None
    customer_id: int | None
    conversation_id: int | None
    ip: str | None
    channel: str | None
    detail: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "action": self.action,
            "actor": self.actor,
            "agent_id": self.agent_id,
            "customer_id": self.customer_id,
            "conversation_id": self.conversation_id,
            "ip": self.ip,
            "channel": self.channel,
            "detail": self.detail,
        }


def record(
    conn: Connection,
    action: str,
    *,
    actor: str,
    agent_id: int | None = None,
    customer_id: int | None = None,
    conversation_id: int | None = None,
    ip: str | None = None,
    channel: str | None = None,
    detail: dict[str, Any] | None = None,
    now: float | None = None,
) -> int:
    """Append an entry; its id. `detail` holds counts and ids, never a customer's text."""
    if action not in ACTIONS:
        raise ValueError(f"audit action {action!r} is not one of {sorted(ACTIONS)}")
    return int(
        conn.execute(
            insert(_audit).returning(_audit.c.id),
            {
                "created_at": time.time() if now is None else now,
                "action": action,
                "actor": actor[:64],
                "agent_id": agent_id,
                "customer_id": customer_id,
                "conversation_id": conversation_id,
                "ip": ip[:64] if ip else None,
                "channel": channel,
                "detail": detail,
            },
        ).scalar_one()
    )


def entries(
    conn: Connection,
    *,
    customer_id: int | None = None,
    action: str | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """Entries, newest first (of one customer, one action, older than id `before`); with
    `after`, the entries newer than that id, oldest first."""
    if after is not None:
        query = select(_audit).where(_audit.c.id > after).order_by(_audit.c.id).limit(limit)
    else:
        query = select(_audit).order_by(_audit.c.id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(_audit.c.customer_id == customer_id)
    if action is not None:
        query = query.where(_audit.c.action == action)
    if before is not None:
        query = query.where(_audit.c.id < before)
    return [AuditRow(**dict(r)) for r in conn.execute(query).mappings()]
