"""Privacy through a store: erasure, export, export links, tombstones, the audit trail,
retention and customer search. Each call is one transaction.

On SQLite every connection deletes securely (`PRAGMA secure_delete`, set by the runner: a
deleted row's bytes are overwritten, not left in free space), and `erase` then runs a
TRUNCATE checkpoint, so the old page versions in the write-ahead log are copied over and the
log emptied: the erased text survives neither in the file nor in its log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, cast, func, or_, select, update
from sqlalchemy.types import String

from storage import audit, erasure, exports, retention
from storage.access import Access, read_accesses
from storage.audit import AuditRow
from storage.erasure import Erased
from storage.store import Store
from storage.tables import metadata

__all__ = ["PrivacyStore"]

log = logging.getLogger("baton.storage")

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_links: Table = metadata.tables["export_links"]
_inbox: Table = metadata.tables["inbox"]


def token_hash(token: str) -> str:
    """The SHA-256 of an export link's token (what is stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class PrivacyStore:
    """Privacy's storage calls (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._run = store._runner.run

    # -- erasure ---------------------------------------------------------------------------

    async def erase(
        self,
        customer_id: int,
        *,
        actor: str,
        agent_id: int | None = None,
        ip: str | None = None,
        channel: str | None = None,
    ) -> Erased | None:
        """Erase the customer and record who did it; None when there is no such customer."""

        def write(conn: Connection) -> Erased | None:
            done = erasure.erase(conn, customer_id)
            if done is not None:
                audit.record(
                    conn,
                    "erase",
                    actor=actor,
                    agent_id=agent_id,
                    customer_id=customer_id,
                    ip=ip,
                    channel=channel,
                    detail={
                        "customers": list(done.customer_ids),
                        "deleted": {k: v for k, v in done.deleted.items() if v},
                        "tombstones": done.tombstones,
                    },
                )
            return done

        done = await self._run(write)
        if done is not None:
            self.store.forget_identities(done.customer_ids)
            await self.scrub_file()
        return done

    async def scrub_file(self) -> bool:
        """SQLite: copy the log into the file and empty it (TRUNCATE checkpoint), so deleted
        bytes survive in neither. True when the log was emptied; PostgreSQL: False (see the
        privacy guide: VACUUM)."""
        path = getattr(self.store._runner, "path", "")
        if self.store.dialect != "sqlite" or not path or path == ":memory:":
            return False
        return await asyncio.to_thread(_truncate_checkpoint, path)

    async def tombstoned(self, kind: str, channel: str, value: str) -> bool:
        """Whether (kind, channel, value) was erased ("identity" or "message")."""

        def read(conn: Connection) -> bool:
            key = erasure.tombstone_key(conn)
            digest = erasure.tombstone_hash(key, kind, channel, value)
            return bool(erasure.tombstoned(conn, [digest]))

        return await self._run(read)

    async def newest_tombstone(self) -> float | None:
        """When the newest tombstone was made (Unix seconds), or None."""
        tombstones = metadata.tables["tombstones"]
        return await self._run(
            lambda conn: conn.execute(select(func.max(tombstones.c.created_at))).scalar()
        )

    async def erased_marks(
        self, channel: str, message_id: str, identity_id: int
    ) -> tuple[bool, bool]:
        """(whether this message was erased before: a redelivery; whether this identity row
        was erased: a process's cache was stale)."""

        def read(conn: Connection) -> tuple[bool, bool]:
            key = erasure.tombstone_key(conn)
            digest = erasure.tombstone_hash(key, "message", channel, message_id)
            external = conn.execute(
                select(_identities.c.external_id).where(_identities.c.id == identity_id)
            ).scalar()
            return bool(erasure.tombstoned(conn, [digest])), str(external or "").startswith(
                "erased:"
            )

        return await self._run(read)

    async def drop_redelivery(self, inbox_id: int, identity_id: int | None) -> None:
        """A message that must leave nothing: handled, its payload and platform id cleared,
        and the name of the identity it made (when given) removed."""

        def write(conn: Connection) -> None:
            conn.execute(
                update(_inbox)
                .where(_inbox.c.id == inbox_id)
                .values(
                    payload={},
                    platform_message_id=f"erased:{inbox_id}",
                    processed_at=time.time(),
                )
            )
            if identity_id is not None:
                conn.execute(
                    update(_identities)
                    .where(_identities.c.id == identity_id)
                    .values(display_name=None)
                )

        await self._run(write)

    # -- export ----------------------------------------------------------------------------

    async def export(
        self,
        customer_id: int,
        *,
        actor: str,
        agent_id: int | None = None,
        ip: str | None = None,
        channel: str | None = None,
    ) -> dict[str, Any] | None:
        """Everything held about the customer (`storage.exports`), the export audited."""

        def read(conn: Connection) -> dict[str, Any] | None:
            data = exports.export(conn, customer_id)
            if data is not None:
                audit.record(
                    conn,
                    "export",
                    actor=actor,
                    agent_id=agent_id,
                    customer_id=customer_id,
                    ip=ip,
                    channel=channel,
                    detail={k: len(v) for k, v in data["sections"].items()},
                )
            return data

        return await self._run(read)

    async def new_export_link(
        self, customer_id: int, *, ttl: float, channel: str | None = None
    ) -> str:
        """A one-time token for the customer's export, valid `ttl` seconds; only its SHA-256
        is stored."""
        token = secrets.token_urlsafe(32)
        now = time.time()

        def write(conn: Connection) -> None:
            conn.execute(
                _links.insert(),
                {
                    "token_hash": token_hash(token),
                    "customer_id": customer_id,
                    "created_at": now,
                    "expires_at": now + ttl,
                },
            )
            audit.record(
                conn, "export_link", actor="customer", customer_id=customer_id, channel=channel
            )

        await self._run(write)
        return token

    async def redeem_export_link(self, token: str, *, ip: str | None = None) -> int | None:
        """The customer of an unused, unexpired token, which is used up now; else None."""
        now = time.time()

        def write(conn: Connection) -> int | None:
            row = conn.execute(
                update(_links)
                .where(
                    _links.c.token_hash == token_hash(token),
                    _links.c.used_at.is_(None),
                    _links.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(_links.c.customer_id)
            ).first()
            if row is None:
                return None
            customer_id = int(row[0])
            audit.record(conn, "export_download", actor="customer", customer_id=customer_id, ip=ip)
            return customer_id

        return await self._run(write)

    # -- the audit trail -------------------------------------------------------------------

    async def audit(self, action: str, *, actor: str, **facts: Any) -> int:
        """Append an entry to the audit trail (see `storage.audit.record`)."""
        return await self._run(lambda conn: audit.record(conn, action, actor=actor, **facts))

    async def audit_entries(
        self,
        *,
        customer_id: int | None = None,
        action: str | None = None,
        before: int | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        """Entries, newest first (`after` an id: oldest first, every newer one up to limit)."""
        return await self._run(
            lambda conn: audit.entries(
                conn,
                customer_id=customer_id,
                action=action,
                before=before,
                after=after,
                limit=limit,
            )
        )

    # -- retention -------------------------------------------------------------------------

    async def retention_plan(
        self, periods: Mapping[str, float], *, now: float
    ) -> dict[str, list[Any]]:
        """What a retention run at `now` deletes (the dry run)."""
        return await self._run(lambda conn: retention.plan(conn, periods, now=now))

    async def retention_run(
        self, periods: Mapping[str, float], *, now: float | None = None, every: float = 0.0
    ) -> tuple[dict[str, list[Any]], dict[str, int]] | None:
        """Claim, plan and delete (see `storage.retention.run_once`); audited."""
        at = time.time() if now is None else now

        def write(conn: Connection) -> tuple[dict[str, list[Any]], dict[str, int]] | None:
            done = retention.run_once(conn, periods, owner=self.store.owner, now=at, every=every)
            if done is not None:
                audit.record(conn, "retention", actor="retention", detail=done[1])
            return done

        done = await self._run(write)
        if done is not None and any(done[1].values()):
            await self.scrub_file()
        return done

    # -- customers -------------------------------------------------------------------------

    async def search(self, query: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Customers whose id, channel id (phone, user id), display name or remembered
        values (name, email) contain `query`, newest first, with their conversation's access
        facts for the caller's authorisation check."""
        text = query.strip()

        def read(conn: Connection) -> list[dict[str, Any]]:
            like = f"%{_escape_like(text.lower())}%"
            matching = select(_identities.c.customer_id).where(
                or_(
                    func.lower(_identities.c.external_id).like(like, escape="\\"),
                    func.lower(_identities.c.display_name).like(like, escape="\\"),
                )
            )
            conditions: list[ColumnElement[bool]] = [
                _customers.c.id.in_(matching),
                func.lower(cast(_customers.c.memory, String)).like(like, escape="\\"),
            ]
            if text.isdigit() and len(text) < 19:
                conditions.append(_customers.c.id == int(text))
            rows = conn.execute(
                select(_customers.c.id, _customers.c.conversation_id, _customers.c.memory)
                .where(or_(*conditions))
                .order_by(_customers.c.last_seen_at.desc())
                .limit(limit)
            ).all()
            ids = [int(r[0]) for r in rows]
            names: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                for r in conn.execute(
                    select(
                        _identities.c.customer_id,
                        _identities.c.channel,
                        _identities.c.external_id,
                        _identities.c.display_name,
                    ).where(_identities.c.customer_id.in_(ids))
                ).mappings():
                    names[int(r["customer_id"])].append(dict(r))
            conversation_ids = [int(r[1]) for r in rows if r[1] is not None]
            accesses = read_accesses(conn, conversation_ids) if conversation_ids else {}
            return [
                {
                    "id": int(r[0]),
                    "memory": r[2] or {},
                    "identities": names[int(r[0])],
                    "access": accesses.get(int(r[1])) if r[1] is not None else None,
                }
                for r in rows
            ]

        return await self._run(read)

    async def customer_access(self, customer_id: int) -> tuple[bool, Access | None]:
        """(whether the customer exists, their conversation's access facts)."""

        def read(conn: Connection) -> tuple[bool, Access | None]:
            row = conn.execute(
                select(_customers.c.conversation_id).where(_customers.c.id == customer_id)
            ).first()
            if row is None:
                return False, None
            if row[0] is None:
                return True, None
            return True, read_accesses(conn, [int(row[0])]).get(int(row[0]))

        return await self._run(read)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _truncate_checkpoint(path: str) -> bool:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        for _ in range(20):
            busy, _log, _copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.05)
        log.warning("the SQLite log could not be emptied now; the next checkpoint copies it")
        return False
    finally:
        conn.close()
