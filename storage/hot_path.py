"""The message path's transactions: a customer's claim (lease, pending rows, state), a turn's
commit, leases and the outbox's delivery marks. Each function runs a whole group of callers'
operations in one transaction (group commit), with the statements of `storage._statements`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from storage import outbound
from storage._statements import (
    _END_RUN,
    _GIVE_LEASE,
    _INSERT_JOURNAL,
    _INSERT_MESSAGE,
    _INSERT_OUTBOX,
    _INSERT_RUN,
    _MARK_DONE,
    _MARK_ONE,
    _NEW_CONVERSATION,
    _NEW_CUSTOMER,
    _PENDING,
    _SENT_MESSAGE,
    _SENT_OUTBOX,
    _SET_CONVERSATION,
    _SET_MEMORY,
    _SET_STATUS,
    _STATE_FLOWS,
    _STATE_JOURNALS,
    _STATES,
    _TAKE_LEASE,
    _TAKE_LEASES,
    _TOUCH_CUSTOMER,
    _identities,
    _messages,
    _outbox,
)
from storage.errors import AlreadyHandled
from storage.followup_writes import cancel_timers, publish, schedule
from storage.outbound import OUTBOX_CLAIM
from storage.records import Accepted, Claim, CustomerState, JournalRow, OutboxRow, TurnWrite
from storage.vocabulary import Author, ConversationStatus, Direction

_IN = Direction.IN.value  # plain strs, looked up once (these run for every message)
_CUSTOMER = Author.CUSTOMER.value

__all__ = [
    "claim_many",
    "create_customer",
    "failed_many",
    "lease_many",
    "read_state",
    "read_states",
    "retry_many",
    "sent_many",
    "write_turns",
]


def write_turns(conn: Connection, owner: str, turns: Sequence[TurnWrite]) -> list[list[OutboxRow]]:
    """Write a group of turns (one transaction); each turn's replies to send."""
    now = time.time()
    done = [t.inbox_id for t in turns if t.inbox_id is not None]
    if done:
        if conn.dialect.name == "sqlite":
            changed = _MARK_ONE.changed(conn, [{"b_id": i, "now": now} for i in done])
            if changed != len(done):
                # The group is then retried one operation at a time, which names the row.
                raise AlreadyHandled(
                    f"of inbox rows {done}, {len(done) - changed} were already handled"
                )
        else:
            marked = set(conn.execute(_MARK_DONE, {"b_ids": done, "now": now}).scalars())
            if len(marked) != len(done):
                raise AlreadyHandled(
                    f"inbox rows {sorted(set(done) - marked)} were already handled"
                )
    message_rows: list[dict[str, Any]] = []
    owners: list[tuple[int, int]] = []  # (turn index, reply index or -1 for inbound)
    for ti, t in enumerate(turns):
        if t.inbound_payload is not None:
            message_rows.append(
                {
                    "customer_id": t.customer_id,
                    "conversation_id": t.conversation_id,
                    "direction": _IN,
                    "author": _CUSTOMER,
                    "channel": t.channel,
                    "identity_id": t.identity_id,
                    "text": t.inbound_text,
                    "payload": t.inbound_payload,
                    "platform_message_id": t.inbound_platform_id,
                    "delivery_status": "received",
                    "error": None,
                    "created_at": now,
                }
            )
            owners.append((ti, -1))
        for ri, r in enumerate(t.replies):
            message_rows.append(
                outbound.message_row(
                    customer_id=t.customer_id,
                    conversation_id=t.conversation_id,
                    author=r.author,
                    channel=r.channel,
                    identity_id=r.identity_id,
                    text=r.text,
                    payload=r.prompt,
                    send=r.send,
                    now=now,
                )
            )
            owners.append((ti, ri))
    message_ids: dict[tuple[int, int], int] = {}
    for key, message_id in zip(owners, _INSERT_MESSAGE.ids(conn, message_rows), strict=True):
        message_ids[key] = message_id
    outbox_rows: list[dict[str, Any]] = []
    outbox_owner: list[int] = []
    for ti, t in enumerate(turns):
        for ri, r in enumerate(t.replies):
            if not r.send:
                continue
            outbox_rows.append(
                outbound.outbox_row(
                    owner=owner,
                    customer_id=t.customer_id,
                    message_id=message_ids[(ti, ri)],
                    channel=r.channel,
                    identity_id=r.identity_id,
                    external_id=r.external_id,
                    route=r.route,
                    payload=r.prompt,
                    now=now,
                )
            )
            outbox_owner.append(ti)
    out: list[list[OutboxRow]] = [[] for _ in turns]
    if outbox_rows:
        result = _INSERT_OUTBOX.ids(conn, outbox_rows)
        for ti, values, outbox_id in zip(outbox_owner, outbox_rows, result, strict=True):
            out[ti].append(outbound.outbox_record(outbox_id, values))
    new_runs = [
        {
            "id": run_id,
            "customer_id": t.customer_id,
            "flow": flow,
            "status": "active",
            "started_at": now,
        }
        for t in turns
        for run_id, flow in t.new_runs
    ]
    _INSERT_RUN.many(conn, new_runs)
    journal = [
        {
            "run_id": run_id,
            "seq": j.seq,
            "kind": j.kind,
            "key": j.key,
            "value": j.value,
            "created_at": now,
        }
        for t in turns
        for run_id, j in t.journal
    ]
    _INSERT_JOURNAL.many(conn, journal)
    ended = [
        {"b_id": run_id, "b_status": status, "now": now}
        for t in turns
        for run_id, status in t.ended_runs
    ]
    _END_RUN.many(conn, ended)
    _TOUCH_CUSTOMER.many(
        conn,
        [
            {
                "b_id": t.customer_id,
                "now": now,
                "b_run": t.active_run_id,
                "b_identity": t.identity_id,
            }
            for t in turns
        ],
    )
    _SET_MEMORY.many(
        conn,
        [{"b_id": t.customer_id, "b_memory": t.memory} for t in turns if t.memory is not None],
    )
    _SET_STATUS.many(
        conn,
        [
            {
                "b_id": t.conversation_id,
                "b_status": t.status,
                "now": now,
                "b_reason": t.handoff_reason,
            }
            for t in turns
            if t.status is not None
        ],
    )
    for t in turns:
        if t.identity_flags and t.identity_id is not None:
            conn.execute(
                update(_identities)
                .where(_identities.c.id == t.identity_id)
                .values(**t.identity_flags)
            )
        # Follow-up (bot.followup): rare, so checked per turn rather than batched.
        if t.scheduled:
            schedule(conn, t.scheduled, now)
        if t.cancel_timers:
            cancel_timers(conn, t.cancel_timers, "the customer wrote")
        for name, data in t.events:
            publish(conn, t.customer_id, name, data, now)
    return out


# -- outbox ----------------------------------------------------------------------------


def create_customer(conn: Connection, now: float) -> CustomerState:
    """A new customer with a first conversation, in the bot's hands; returned as a turn would
    read it."""
    customer_id = int(
        _NEW_CUSTOMER.first(conn, {"created_at": now, "last_seen_at": now, "memory": {}})[0]
    )
    conversation_id = int(
        _NEW_CONVERSATION.first(
            conn,
            {
                "customer_id": customer_id,
                "status": ConversationStatus.BOT.value,
                "status_at": now,
                "created_at": now,
            },
        )[0]
    )
    _SET_CONVERSATION.many(conn, [{"b_id": customer_id, "b_conversation": conversation_id}])
    return CustomerState(customer_id, conversation_id, ConversationStatus.BOT.value, {})


def read_state(conn: Connection, customer_id: int) -> CustomerState:
    """One customer's state, read in the caller's transaction."""
    return read_states(conn, [customer_id])[customer_id]


def read_states(conn: Connection, customer_ids: Sequence[int]) -> dict[int, CustomerState]:
    """The state of each customer (a few statements for all of them); KeyError if one is
    missing."""
    states = {
        int(r[0]): CustomerState(int(r[0]), int(r[2]), str(r[4]), dict(r[1] or {}), r[3])
        for r in conn.execute(_STATES, {"b_ids": list(customer_ids)})
    }
    runs: dict[str, list[CustomerState]] = {}
    for state in states.values():
        if state.active_run_id:
            runs.setdefault(state.active_run_id, []).append(state)
    if runs:
        for run_id, flow in conn.execute(_STATE_FLOWS, {"b_ids": list(runs)}):
            for state in runs[run_id]:
                state.active_flow = flow
        for r in conn.execute(_STATE_JOURNALS, {"b_ids": list(runs)}):
            for state in runs[r[0]]:
                state.journal.append(JournalRow(int(r[1]), str(r[2]), str(r[3]), r[4]))
    for customer_id in customer_ids:
        if customer_id not in states:
            raise KeyError(f"no customer {customer_id}")
    return states


def claim_many(
    conn: Connection, items: Sequence[tuple[int, str, float, int]]
) -> list[Claim | None]:
    """Take the leases of a group of claims and read their pending rows and states."""
    # Every claim of the group costs the same few statements (one round trip each on
    # PostgreSQL): take the leases, read the pending rows, read the states.
    now = time.time()
    taken: dict[tuple[str, float], set[int]] = {}
    for customer_id, owner, seconds, _ in items:
        taken.setdefault((owner, seconds), set()).add(customer_id)
    for (owner, seconds), ids in taken.items():  # in order: an earlier owner wins
        params = {"b_ids": sorted(ids), "b_owner": owner, "now": now, "b_until": now + seconds}
        taken[(owner, seconds)] = set(conn.execute(_TAKE_LEASES, params).scalars())
    claimed = [c for c, owner, seconds, _ in items if c in taken[(owner, seconds)]]
    if not claimed:
        return [None] * len(items)
    pending: dict[int, list[Accepted]] = {c: [] for c in claimed}
    for r in conn.execute(
        _PENDING, {"b_ids": sorted(set(claimed)), "b_limit": max(i[3] for i in items)}
    ):
        pending[int(r[1])].append(Accepted(int(r[0]), int(r[1]), int(r[2]), r[3]))
    states = read_states(conn, sorted(set(claimed)))
    out: list[Claim | None] = []
    given: set[int] = set()
    for customer_id, owner, seconds, limit in items:
        if customer_id not in taken[(owner, seconds)]:
            out.append(None)
            continue
        # The same customer twice in a group: each claim gets its own state object.
        state = read_state(conn, customer_id) if customer_id in given else states[customer_id]
        given.add(customer_id)
        out.append(Claim(pending[customer_id][:limit], state))
    return out


def lease_many(conn: Connection, items: Sequence[tuple[int, str, float | None]]) -> list[bool]:
    """Take, extend (seconds) or give back (None) a group of leases."""
    now = time.time()
    out: list[bool] = []
    for customer_id, owner, seconds in items:
        if seconds is None:
            conn.execute(_GIVE_LEASE, {"b_id": customer_id, "b_owner": owner})
            out.append(True)
            continue
        result = conn.execute(
            _TAKE_LEASE,
            {"b_id": customer_id, "b_owner": owner, "now": now, "b_until": now + seconds},
        )
        out.append(bool(result.rowcount))
    return out


def sent_many(conn: Connection, items: Sequence[tuple[int, int | None, list[str]]]) -> list[None]:
    """Mark a group of replies sent."""
    now = time.time()
    _SENT_OUTBOX.many(conn, [{"b_id": oid, "now": now} for oid, _, _ in items])
    _SENT_MESSAGE.many(
        conn,
        [
            {"b_id": mid, "b_pid": ids[0] if ids else None}
            for _, mid, ids in items
            if mid is not None
        ],
    )
    return [None] * len(items)


def retry_many(conn: Connection, items: Sequence[tuple[int, int, float, str, str]]) -> list[None]:
    """Record a group of failed attempts and when to try each again."""
    for oid, attempts, at, error, owner in items:
        conn.execute(
            update(_outbox)
            .where(_outbox.c.id == oid)
            .values(
                attempts=attempts,
                next_attempt_at=at,
                last_error=error[:2000],
                claimed_by=owner,
                claim_until=at + OUTBOX_CLAIM,
            )
        )
    return [None] * len(items)


def failed_many(
    conn: Connection,
    items: Sequence[tuple[int, int | None, int, str, int | None, bool, bool]],
) -> list[None]:
    """Record a group of permanent failures (and flag identities)."""
    for oid, mid, attempts, error, identity_id, unreachable, opted_out in items:
        conn.execute(
            update(_outbox)
            .where(_outbox.c.id == oid)
            .values(
                status="failed",
                attempts=attempts,
                last_error=error[:2000],
                claimed_by=None,
                claim_until=None,
            )
        )
        if mid is not None:
            conn.execute(
                update(_messages)
                .where(_messages.c.id == mid)
                .values(delivery_status="failed", error=error[:2000])
            )
        customer = conn.execute(
            select(_outbox.c.customer_id, _outbox.c.channel).where(_outbox.c.id == oid)
        ).first()
        if customer is not None:
            publish(
                conn,
                int(customer[0]),
                "message.failed",
                {"message_id": mid, "channel": customer[1], "error": error[:500]},
            )
        flags: dict[str, bool] = {}
        if unreachable:
            flags["unreachable"] = True
        if opted_out:
            flags["opted_out"] = True
        if flags and identity_id is not None:
            conn.execute(
                update(_identities).where(_identities.c.id == identity_id).values(**flags)
            )
    return [None] * len(items)
