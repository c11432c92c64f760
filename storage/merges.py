"""Merging two customers into one and unlinking an identity again.

A merge re-points every row of the other customer (`MOVED`) and writes the ids that moved to
the append-only `merge_log`; `unlink` reads it to move them back. Both run inside the caller's
transaction (`storage.identities.Linking`), locking the customers' rows in id order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from storage.followup_writes import publish
from storage.hot_path import create_customer
from storage.store import Store
from storage.tables import metadata
from storage.vocabulary import OPEN

__all__ = ["MOVED", "Merged", "Unlinked", "merge", "unlink"]

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_conversations: Table = metadata.tables["conversations"]
_runs: Table = metadata.tables["flow_runs"]
_log: Table = metadata.tables["merge_log"]

MOVED = (
    "identities",
    "conversations",
    "messages",
    "inbox",
    "outbox",
    "flow_runs",
    "handoffs",
    "handoff_events",
    "agent_notes",
    "link_codes",
    "consents",
    "media_files",
    "scheduled",
    "events",
    "event_deliveries",
    "survey_answers",
)
"""Every table with a customer_id column whose rows move in a merge (flow_journal follows its
run; customers' own row is merged field by field)."""


@dataclass(frozen=True, slots=True)
class Merged:
    """Two customers became one: `other` was merged into `keep`."""

    keep: int
    other: int
    log_id: int
    moved: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unlinked:
    """An identity left `customer_id` for `new_customer_id` (restored or created)."""

    customer_id: int
    new_customer_id: int
    log_id: int
    moved: dict[str, Any]


def _customer(conn: Connection, customer_id: int) -> dict[str, Any]:
    q = select(_customers).where(_customers.c.id == customer_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return dict(conn.execute(q).mappings().one())


def merge(
    conn: Connection,
    store: Store,
    keep: int,
    other: int,
    *,
    proof: str,
    actor: str | None,
    now: float,
) -> Merged:
    """Merge customer `other` into `keep` in the caller's transaction; what moved is logged."""
    first, second = sorted((keep, other))  # lock in id order
    rows = {first: _customer(conn, first), second: _customer(conn, second)}
    k, o = rows[keep], rows[other]
    moved: dict[str, Any] = {}
    for name in MOVED:
        table = metadata.tables[name]
        ids = list(conn.execute(select(table.c.id).where(table.c.customer_id == other)).scalars())
        if ids:
            conn.execute(
                update(table).where(table.c.customer_id == other).values(customer_id=keep)
            )
        moved[name] = ids
    # Memory: the more recently active customer's value wins a conflict; the others are
    # recorded here.
    newer, older = (k, o) if k["last_seen_at"] >= o["last_seen_at"] else (o, k)
    memory = dict(older["memory"] or {}) | dict(newer["memory"] or {})
    conflicts = {
        key: value
        for key, value in (older["memory"] or {}).items()
        if key in (newer["memory"] or {}) and newer["memory"][key] != value
    }
    # The most recently active flow is kept; the other one ends as "merged".
    run = newer["active_run_id"] or older["active_run_id"]
    superseded = older["active_run_id"] if newer["active_run_id"] else None
    if superseded:
        conn.execute(
            update(_runs).where(_runs.c.id == superseded).values(status="merged", ended_at=now)
        )
    # An open handoff is kept: the conversation with people involved stays the current one.
    statuses = dict(
        conn.execute(
            select(_conversations.c.id, _conversations.c.status).where(
                _conversations.c.id.in_([k["conversation_id"], o["conversation_id"]])
            )
        ).all()
    )
    conversation = k["conversation_id"]
    if statuses.get(conversation) not in OPEN and statuses.get(o["conversation_id"]) in OPEN:
        conversation = o["conversation_id"]
    moved["customer"] = {
        "keep": {
            "memory": k["memory"],
            "active_run_id": k["active_run_id"],
            "conversation_id": k["conversation_id"],
            "last_identity_id": k["last_identity_id"],
        },
        "other": {
            "memory": o["memory"],
            "active_run_id": o["active_run_id"],
            "conversation_id": o["conversation_id"],
            "last_identity_id": o["last_identity_id"],
        },
        "memory_conflicts": conflicts,
        "superseded_run": superseded,
    }
    conn.execute(
        update(_customers)
        .where(_customers.c.id == keep)
        .values(
            memory=memory,
            active_run_id=run,
            conversation_id=conversation,
            last_seen_at=max(k["last_seen_at"], o["last_seen_at"]),
            last_identity_id=newer["last_identity_id"],
        )
    )
    conn.execute(
        update(_customers)
        .where(_customers.c.id == other)
        .values(memory={}, active_run_id=None, last_identity_id=None)
    )
    log_id = int(
        conn.execute(
            insert(_log).returning(_log.c.id),
            {
                "kind": "merge",
                "customer_id": keep,
                "other_customer_id": other,
                "proof": proof,
                "actor": actor,
                "moved": moved,
                "created_at": now,
            },
        ).scalar_one()
    )
    store.forget_identities((keep, other))
    publish(conn, keep, "customer.linked", {"other_customer_id": other, "proof": proof}, now)
    return Merged(keep, other, log_id, moved)


def unlink(
    conn: Connection, store: Store, identity_id: int, actor: str, now: float
) -> Unlinked | None:
    """Give an identity its own customer again, in the caller's transaction."""
    customer_id = conn.execute(
        select(_identities.c.customer_id).where(_identities.c.id == identity_id)
    ).scalar_one_or_none()
    if customer_id is None:
        raise LookupError("unknown identity")
    count = conn.execute(
        select(_identities.c.id).where(_identities.c.customer_id == customer_id)
    ).all()
    if len(count) < 2:
        return None
    k = _customer(conn, customer_id)
    # The newest merge into this customer that brought this identity, if any.
    entry: dict[str, Any] | None = None
    for row in conn.execute(
        select(_log)
        .where(_log.c.customer_id == customer_id, _log.c.kind == "merge")
        .order_by(_log.c.id.desc())
    ).mappings():
        if identity_id in (row["moved"].get("identities") or []):
            entry = dict(row)
            break
    brought: dict[str, list[Any]] = {}
    restored_customer: dict[str, Any] = {}
    target: int | None = None
    if entry is not None:
        moved = entry["moved"]
        # What came with the identity goes back only if it came alone.
        if list(moved.get("identities") or []) == [identity_id]:
            brought = {name: list(moved.get(name) or []) for name in MOVED}
            restored_customer = moved["customer"]["other"]
        other = int(entry["other_customer_id"])
        empty = conn.execute(
            select(_identities.c.id).where(_identities.c.customer_id == other).limit(1)
        ).first()
        if empty is None:
            target = other
    if target is None:
        target = create_customer(conn, now).customer_id
        restored_customer = {}
    back: dict[str, Any] = {}
    for name in MOVED:
        table = metadata.tables[name]
        ids = set(brought.get(name) or [])
        if "identity_id" in table.c:  # written by or to the identity, also since the merge
            ids |= set(
                conn.execute(
                    select(table.c.id).where(
                        table.c.identity_id == identity_id,
                        table.c.customer_id == customer_id,
                    )
                ).scalars()
            )
        if name == "identities":
            ids.add(identity_id)
        ids_list = sorted(ids, key=str)
        if ids_list:
            conn.execute(
                update(table)
                .where(table.c.id.in_(ids_list), table.c.customer_id == customer_id)
                .values(customer_id=target)
            )
        back[name] = ids_list
    # Journal rows follow their runs; the active run goes with the identity if it came
    # with it, and the run it superseded at the merge comes back.
    values: dict[str, Any] = {"last_identity_id": identity_id, "last_seen_at": now}
    mine_memory = dict(k["memory"] or {})
    if restored_customer:
        values["memory"] = restored_customer.get("memory") or {}
        if k["active_run_id"] in set(brought.get("flow_runs") or []):
            values["active_run_id"] = k["active_run_id"]
            assert entry is not None
            superseded = entry["moved"]["customer"].get("superseded_run")
            conn.execute(
                update(_customers)
                .where(_customers.c.id == customer_id)
                .values(active_run_id=superseded)
            )
            if superseded:
                conn.execute(
                    update(_runs)
                    .where(_runs.c.id == superseded)
                    .values(status="active", ended_at=None)
                )
        old_conversation = restored_customer.get("conversation_id")
        if old_conversation in set(brought.get("conversations") or []):
            values["conversation_id"] = old_conversation
            if k["conversation_id"] == old_conversation:
                kept = entry["moved"]["customer"]["keep"]["conversation_id"] if entry else None
                conn.execute(
                    update(_customers)
                    .where(_customers.c.id == customer_id)
                    .values(conversation_id=kept)
                )
        # Keys only the leaving customer brought, unchanged since, leave with it.
        keep_memory = (entry["moved"]["customer"]["keep"]["memory"] if entry else {}) or {}
        for key, value in (restored_customer.get("memory") or {}).items():
            if key not in keep_memory and mine_memory.get(key) == value:
                mine_memory.pop(key, None)
        conn.execute(
            update(_customers).where(_customers.c.id == customer_id).values(memory=mine_memory)
        )
    else:
        values["memory"] = dict(mine_memory)  # a copy: what the customer told us is theirs
    conn.execute(update(_customers).where(_customers.c.id == target).values(**values))
    last = conn.execute(
        select(_identities.c.id)
        .where(_identities.c.customer_id == customer_id)
        .order_by(_identities.c.last_seen_at.desc())
        .limit(1)
    ).scalar_one()
    conn.execute(
        update(_customers)
        .where(_customers.c.id == customer_id, _customers.c.last_identity_id == identity_id)
        .values(last_identity_id=last)
    )
    log_id = int(
        conn.execute(
            insert(_log).returning(_log.c.id),
            {
                "kind": "unlink",
                "customer_id": customer_id,
                "other_customer_id": target,
                "proof": "admin",
                "actor": actor,
                "moved": back,
                "created_at": now,
            },
        ).scalar_one()
    )
    store.forget_identities((customer_id, target))
    return Unlinked(customer_id, target, log_id, back)
