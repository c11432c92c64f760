"""Erasure of a customer: every declared row deleted or blanked (`storage.personal_data`),
tombstones left, all in the caller's transaction.

Rows whose id others rely on stay as skeletons with their personal columns blanked (the
customer's own row, its identities, messages, inbox and outbox rows, handoffs): SQLite gives
a deleted highest id to the next row, and the engine's caches, the console's live cursors
and the audit trail would then mistake a new person's rows for the erased one's. The
skeletons keep what statistics count (channel, direction, times, agents), tied to an id
with nothing left behind it.

The customer erased is the one named and every customer merged into them earlier (their
emptied rows, kept for an unlink, still belong to the same person). A tombstone is an HMAC,
keyed by a secret of this installation, of each erased identity (channel + external id) and
of each inbound message (channel + platform message id): a redelivered webhook of an erased
message is recognised and dropped without the id itself being kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.personal_data import REGISTRY, PersonalTable
from storage.tables import metadata

__all__ = [
    "Erased",
    "customer_rows",
    "erase",
    "erasure_set",
    "tombstone_hash",
    "tombstone_key",
    "tombstoned",
]

_secrets: Table = metadata.tables["install_secrets"]
_tombstones: Table = metadata.tables["tombstones"]
_merge_log: Table = metadata.tables["merge_log"]
_identities: Table = metadata.tables["identities"]
_inbox: Table = metadata.tables["inbox"]
_customers: Table = metadata.tables["customers"]
_SECRET = "tombstones"


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure did: the customers erased, rows deleted per table, files to remove."""

    customer_ids: tuple[int, ...]
    deleted: dict[str, int]
    tombstones: int
    files: list[str] = field(default_factory=list)
    """Paths of files on disk that went with deleted rows (removed by the caller)."""


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def tombstone_key(conn: Connection) -> bytes:
    """This installation's key for tombstone hashes (made once, kept in install_secrets)."""
    row = conn.execute(select(_secrets.c.value).where(_secrets.c.name == _SECRET)).first()
    if row is None:
        conn.execute(
            _insert(conn, _secrets).on_conflict_do_nothing(index_elements=["name"]),
            {"name": _SECRET, "value": secrets.token_hex(32), "created_at": time.time()},
        )
        row = conn.execute(select(_secrets.c.value).where(_secrets.c.name == _SECRET)).one()
    return bytes.fromhex(str(row[0]))


def tombstone_hash(key: bytes, kind: str, channel: str, value: str) -> str:
    """The keyed hash a tombstone stores for (kind, channel, value)."""
    return hmac.new(key, f"{kind}\0{channel}\0{value}".encode(), hashlib.sha256).hexdigest()


def tombstoned(conn: Connection, hashes: Collection[str]) -> set[str]:
    """Which of `hashes` have a tombstone."""
    if not hashes:
        return set()
    rows = conn.execute(select(_tombstones.c.key_hash).where(_tombstones.c.key_hash.in_(hashes)))
    return {str(r[0]) for r in rows}


def erasure_set(conn: Connection, customer_id: int) -> list[int]:
    """The customer and every customer merged into them that no identity belongs to now."""
    found = [customer_id]
    todo = [customer_id]
    while todo:
        at = todo.pop()
        others = conn.execute(
            select(_merge_log.c.other_customer_id).where(
                _merge_log.c.customer_id == at, _merge_log.c.kind == "merge"
            )
        ).scalars()
        for raw in others:
            other = int(raw)
            if other in found:
                continue
            owned = conn.execute(
                select(func.count()).where(_identities.c.customer_id == other)
            ).scalar_one()
            if owned == 0:
                found.append(other)
                todo.append(other)
    return found


def customer_rows(entry: PersonalTable, customer_ids: Collection[int]) -> Any:
    """The WHERE clause picking the customers' rows of `entry`'s table."""
    table = metadata.tables[entry.table]
    ids = list(customer_ids)
    if entry.via is not None:
        column, other, other_column = entry.via
        parent = metadata.tables[other]
        owner = parent.c.customer_id if "customer_id" in parent.c else parent.c.id
        return table.c[column].in_(select(parent.c[other_column]).where(owner.in_(ids)))
    return or_(*(table.c[c].in_(ids) for c in entry.columns))


def _tombstone(conn: Connection, ids: list[int], now: float) -> int:
    key = tombstone_key(conn)
    hashes: set[tuple[str, str]] = set()
    for channel, external_id in conn.execute(
        select(_identities.c.channel, _identities.c.external_id).where(
            _identities.c.customer_id.in_(ids)
        )
    ):
        hashes.add((tombstone_hash(key, "identity", channel, external_id), "identity"))
    for channel, platform_id in conn.execute(
        select(_inbox.c.channel, _inbox.c.platform_message_id).where(_inbox.c.customer_id.in_(ids))
    ):
        hashes.add((tombstone_hash(key, "message", channel, platform_id), "message"))
    if not hashes:
        return 0
    conn.execute(
        _insert(conn, _tombstones).on_conflict_do_nothing(index_elements=["key_hash"]),
        [{"key_hash": h, "kind": k, "created_at": now} for h, k in sorted(hashes)],
    )
    return len(hashes)


def erase(conn: Connection, customer_id: int, *, now: float | None = None) -> Erased | None:
    """Erase the customer (see the module docstring) in the caller's transaction; None when
    there is no such customer."""
    now = time.time() if now is None else now
    exists = conn.execute(select(_customers.c.id).where(_customers.c.id == customer_id)).first()
    if exists is None:
        return None
    if conn.dialect.name == "postgresql":  # no turn of theirs commits meanwhile
        conn.execute(
            select(_customers.c.id).where(_customers.c.id == customer_id).with_for_update()
        )
    ids = erasure_set(conn, customer_id)
    tombstones = _tombstone(conn, ids, now)
    deleted: dict[str, int] = {}
    files: list[str] = []
    for entry in _deletion_order(REGISTRY):
        table = metadata.tables[entry.table]
        where = customer_rows(entry, ids)
        if entry.files is not None:
            files += [str(p) for (p,) in conn.execute(select(table.c[entry.files]).where(where))]
        if entry.erase == "blank":
            values = {c: v(table) if callable(v) else v for c, v in entry.blank}
            done = conn.execute(update(table).where(where).values(**values))
        else:
            done = conn.execute(delete(table).where(where))
        deleted[entry.table] = int(done.rowcount or 0)
    return Erased(tuple(ids), deleted, tombstones, [f for f in files if f])


def _deletion_order(entries: Iterable[PersonalTable]) -> list[PersonalTable]:
    return [e for e in entries if e.erase in ("delete", "blank")]
