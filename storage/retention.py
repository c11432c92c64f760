"""Retention: per kind of data, rows older than its period are deleted by a scheduled job.

`plan` lists what is due (the ids per kind, oldest first, at most `limit` per kind); `apply`
deletes exactly those ids; `run_once` claims the job for this period (one process across
many: a row in `job_claims` updated only when the period has passed, in the same transaction
as the deletion), plans and applies. A dry run is `plan` alone, with the same `now`, so it
lists exactly what a run at that time deletes.

Kinds (a period of 0 keeps that kind forever):

| kind | rows |
|---|---|
| `inbox` | inbound payloads already handled (`processed_at` older than the period) |
| `outbox` | replies sent or given up on (`created_at`) |
| `messages` | messages of every channel (`created_at`) |
| `journals` | finished flow runs and their journals (`ended_at`) |
| `sessions` | console sessions and export links that expired (`expires_at`) |

A feature adds a kind with `declare_kind` (its events, for example).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.tables import metadata

__all__ = ["KINDS", "RetentionKind", "apply", "declare_kind", "plan", "run_once"]

_DAY = 86400.0
JOB = "retention"


@dataclass(frozen=True, slots=True)
class RetentionKind:
    """One kind of data with a retention period."""

    name: str
    table: str
    key: str
    """The primary key column listed and deleted by."""
    age: str
    """The column whose time decides (older than now - period is due)."""
    where: Callable[[Table], Any] | None = None
    """What else a row must be to be due (handled, finished, ...)."""
    children: tuple[tuple[str, str], ...] = ()
    """(table, column) rows pointing at a due row, deleted with it."""


KINDS: list[RetentionKind] = [
    RetentionKind("inbox", "inbox", "id", "processed_at", lambda t: t.c.processed_at.is_not(None)),
    RetentionKind("outbox", "outbox", "id", "created_at", lambda t: t.c.status != "pending"),
    RetentionKind("messages", "messages", "id", "created_at"),
    RetentionKind(
        "journals",
        "flow_runs",
        "id",
        "ended_at",
        lambda t: t.c.status != "active",
        children=(("flow_journal", "run_id"),),
    ),
    RetentionKind("sessions", "agent_sessions", "id", "expires_at"),
    RetentionKind("export_links", "export_links", "id", "expires_at"),
]


def declare_kind(kind: RetentionKind) -> None:
    """Add a kind of data to retention (a feature's own table)."""
    if any(k.name == kind.name for k in KINDS):
        raise ValueError(f"retention kind {kind.name!r} is already declared")
    KINDS.append(kind)


def plan(
    conn: Connection, periods: Mapping[str, float], *, now: float, limit: int = 10_000
) -> dict[str, list[Any]]:
    """The ids due per kind (`periods` in days per kind name; missing or 0: kept forever)."""
    due: dict[str, list[Any]] = {}
    for kind in KINDS:
        days = periods.get(kind.name, 0)
        if not days or days <= 0:
            continue
        table = metadata.tables[kind.table]
        query = (
            select(table.c[kind.key])
            .where(table.c[kind.age] < now - days * _DAY)
            .order_by(table.c[kind.age], table.c[kind.key])
            .limit(limit)
        )
        if kind.where is not None:
            query = query.where(kind.where(table))
        due[kind.name] = [r[0] for r in conn.execute(query)]
    return due


def apply(conn: Connection, due: Mapping[str, list[Any]]) -> dict[str, int]:
    """Delete exactly the ids of `due`; rows deleted per kind."""
    done: dict[str, int] = {}
    by_name = {k.name: k for k in KINDS}
    for name, ids in due.items():
        kind = by_name[name]
        table = metadata.tables[kind.table]
        count = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for child, column in kind.children:
                child_table = metadata.tables[child]
                conn.execute(delete(child_table).where(child_table.c[column].in_(chunk)))
            count += int(conn.execute(delete(table).where(table.c[kind.key].in_(chunk))).rowcount)
        done[name] = count
    return done


def _claim(conn: Connection, owner: str, now: float, every: float) -> bool:
    claims = metadata.tables["job_claims"]
    ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        ins(claims).on_conflict_do_nothing(index_elements=["name"]),
        {"name": JOB, "owner": None, "claimed_until": 0.0, "last_run_at": 0.0},
    )
    result = conn.execute(
        update(claims)
        .where(claims.c.name == JOB, claims.c.last_run_at <= now - every)
        .values(owner=owner[:64], claimed_until=now + every, last_run_at=now)
    )
    return bool(result.rowcount)


def run_once(
    conn: Connection,
    periods: Mapping[str, float],
    *,
    owner: str,
    now: float | None = None,
    every: float = 0.0,
) -> tuple[dict[str, list[Any]], dict[str, int]] | None:
    """Claim the job (unless another process ran it less than `every` seconds ago), plan and
    delete, in the caller's transaction: (what was due, rows deleted per kind), or None when
    the job was not this process's to run."""
    now = time.time() if now is None else now
    if not _claim(conn, owner, now, every):
        return None
    due = plan(conn, periods, now=now)
    return due, apply(conn, due)
