"""Consent per purpose: what a customer agreed to, when, where, and what they were shown.

The record is append-only (`consents`): every answer and every withdrawal is a row, and the
newest row for a (customer, purpose) is the consent in force. One rule decides whether a
message for a purpose may be sent (`allows`):

- `service` (the customer's own matter: an order, a ticket, a reply they are waiting for)
  needs no recorded consent; the channel's opt-out (SMS STOP) and reachability still apply.
- every other purpose (`marketing`, `surveys`, an app's own) needs the newest answer to be a
  yes. No answer is a no.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, Table, func, insert, select

from storage.store import Store
from storage.tables import metadata

__all__ = [
    "SERVICE",
    "SOURCES",
    "Consent",
    "Consents",
    "allows",
    "check_purpose",
    "history",
    "in_force",
    "record",
]

SERVICE = "service"
"""The purpose that needs no recorded consent: messages about the customer's own matter."""

SOURCES = frozenset({"customer", "console", "api", "import"})
"""Where a consent or withdrawal can come from."""

_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_consents: Table = metadata.tables["consents"]


@dataclass(frozen=True, slots=True)
class Consent:
    """One answer or withdrawal, as recorded."""

    id: int
    customer_id: int
    purpose: str
    granted: bool
    channel: str | None
    source: str
    actor: str | None
    text: str
    created_at: float


def check_purpose(purpose: str) -> str:
    """The purpose if it is a valid name (lower-case letters, digits, '-' and '_', up to 32),
    else ValueError saying so."""
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(
            f"consent purpose {purpose!r} is not a valid name: use lower-case letters, digits, "
            "'-' and '_', starting with a letter, at most 32 characters (e.g. 'marketing')"
        )
    return purpose


def _row(r: RowMapping) -> Consent:
    return Consent(
        id=int(r["id"]),
        customer_id=int(r["customer_id"]),
        purpose=str(r["purpose"]),
        granted=bool(r["granted"]),
        channel=r["channel"],
        source=str(r["source"]),
        actor=r["actor"],
        text=str(r["text"]),
        created_at=float(r["created_at"]),
    )


def record(
    conn: Connection,
    *,
    customer_id: int,
    purpose: str,
    granted: bool,
    source: str,
    text: str = "",
    channel: str | None = None,
    actor: str | None = None,
    now: float | None = None,
) -> int:
    """Append an answer (or a withdrawal: `granted=False`); the id of the new row."""
    check_purpose(purpose)
    if purpose == SERVICE:
        raise ValueError("the 'service' purpose needs no consent and cannot be recorded")
    if source not in SOURCES:
        raise ValueError(f"consent source {source!r} is not one of {sorted(SOURCES)}")
    return int(
        conn.execute(
            insert(_consents).returning(_consents.c.id),
            {
                "customer_id": customer_id,
                "purpose": purpose,
                "granted": granted,
                "channel": channel,
                "source": source,
                "actor": actor,
                "text": text,
                "created_at": time.time() if now is None else now,
            },
        ).scalar_one()
    )


def in_force(conn: Connection, customer_id: int) -> dict[str, Consent]:
    """The newest answer per purpose for a customer."""
    newest = (
        select(func.max(_consents.c.id))
        .where(_consents.c.customer_id == customer_id)
        .group_by(_consents.c.purpose)
    )
    rows = conn.execute(select(_consents).where(_consents.c.id.in_(newest))).mappings()
    return {c.purpose: c for c in map(_row, rows)}


def allows(conn: Connection, customer_id: int, purpose: str) -> bool:
    """Whether a message for `purpose` may be sent to this customer (see the module's rule)."""
    check_purpose(purpose)
    if purpose == SERVICE:
        return True
    row = conn.execute(
        select(_consents.c.granted)
        .where(_consents.c.customer_id == customer_id, _consents.c.purpose == purpose)
        .order_by(_consents.c.id.desc())
        .limit(1)
    ).first()
    return bool(row and row[0])


def history(conn: Connection, customer_id: int) -> list[Consent]:
    """Every answer and withdrawal of a customer, oldest first."""
    rows = conn.execute(
        select(_consents).where(_consents.c.customer_id == customer_id).order_by(_consents.c.id)
    ).mappings()
    return [_row(r) for r in rows]


class Consents:
    """The consent record through a store (each call one transaction)."""

    def __init__(self, store: Store) -> None:
        self._run = store._runner.run

    async def record(
        self,
        customer_id: int,
        purpose: str,
        *,
        granted: bool,
        source: str,
        text: str = "",
        channel: str | None = None,
        actor: str | None = None,
    ) -> int:
        """Append an answer or withdrawal; the new row's id."""
        return await self._run(
            lambda conn: record(
                conn,
                customer_id=customer_id,
                purpose=purpose,
                granted=granted,
                source=source,
                text=text,
                channel=channel,
                actor=actor,
            )
        )

    async def in_force(self, customer_id: int) -> dict[str, Consent]:
        """The newest answer per purpose."""
        return await self._run(lambda conn: in_force(conn, customer_id))

    async def allows(self, customer_id: int, purpose: str) -> bool:
        """Whether a message for `purpose` may be sent to this customer."""
        return await self._run(lambda conn: allows(conn, customer_id, purpose))

    async def history(self, customer_id: int) -> list[Consent]:
        """Every answer and withdrawal, oldest first."""
        return await self._run(lambda conn: history(conn, customer_id))
