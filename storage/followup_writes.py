"""Follow-up's writes inside a caller's transaction: scheduling work in a customer's line,
cancelling a sleeping flow's wake-up, recording an event. Used by a turn's commit
(`storage.hot_path`), the handoff's transitions, merges and `storage.followup`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.records import ScheduleWrite
from storage.tables import metadata

__all__ = ["WAKE_CONTROL", "cancel_timers", "insert_ignoring", "publish", "schedule"]

WAKE_CONTROL = "baton:wake"
"""`Inbound.control` of an inbox row made from a scheduled row (not a customer message)."""

_scheduled: Table = metadata.tables["scheduled"]
_events: Table = metadata.tables["events"]


def insert_ignoring(conn: Connection, table: Table, rows: list[dict[str, Any]], key: str) -> None:
    """Insert rows, skipping those whose unique `key` is taken."""
    if not rows:
        return
    ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(ins(table).on_conflict_do_nothing(index_elements=[key]), rows)


def schedule(conn: Connection, items: Sequence[ScheduleWrite], now: float) -> None:
    """Insert scheduled rows; one whose `key` is already taken is skipped."""
    plain: list[dict[str, Any]] = []
    for item in items:
        row = {
            "customer_id": item.customer_id,
            "kind": item.kind,
            "key": item.key,
            "run_id": item.run_id,
            "flow": item.flow,
            "payload": dict(item.payload or {}),
            "due_at": item.due_at,
            "status": "pending",
            "created_at": now,
        }
        if item.key is None:
            plain.append(row)
        else:  # one by one: a conflict must not drop the others of a batch
            insert_ignoring(conn, _scheduled, [row], "key")
    if plain:
        conn.execute(insert(_scheduled), plain)


def cancel_timers(conn: Connection, run_ids: Sequence[str], reason: str) -> None:
    """Cancel the pending wake-ups of these runs."""
    if run_ids:
        conn.execute(
            update(_scheduled)
            .where(_scheduled.c.run_id.in_(list(run_ids)), _scheduled.c.status == "pending")
            .values(status="cancelled", reason=reason)
        )


def publish(
    conn: Connection,
    customer_id: int,
    name: str,
    data: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> None:
    """Record an event in the caller's transaction (delivered once it commits)."""
    conn.execute(
        insert(_events),
        {
            "customer_id": customer_id,
            "name": name,
            "data": dict(data or {}),
            "routed": False,
            "created_at": time.time() if now is None else now,
        },
    )
