"""Follow-up's storage: scheduled work fed into customers' lines, durable events and their
deliveries, survey answers. The functions taking a `Connection` run inside the caller's
transaction (a turn's commit, a handoff's change); `FollowupStore` runs its own.

Several processes on PostgreSQL: due rows are read `FOR UPDATE SKIP LOCKED` and moved on in
the same transaction (a scheduled row becomes an inbox row whose dedupe key is the row's id,
so even two pollers make one); deliveries are claimed for a while like the outbox's rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.followup_writes import (
    WAKE_CONTROL,
    cancel_timers,
    insert_ignoring,
    publish,
    schedule,
)
from storage.records import Accepted, JournalRow, ScheduleWrite
from storage.store import Store
from storage.tables import metadata

__all__ = [
    "WAKE_CONTROL",
    "Delivery",
    "FollowupStore",
    "RunRecord",
    "ScheduleWrite",
    "cancel_timers",
    "publish",
    "schedule",
]


_scheduled: Table = metadata.tables["scheduled"]
_events: Table = metadata.tables["events"]
_deliveries: Table = metadata.tables["event_deliveries"]
_surveys: Table = metadata.tables["survey_answers"]
_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_runs: Table = metadata.tables["flow_runs"]
_journal: Table = metadata.tables["flow_journal"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A flow run as stored: its flow, status and journal."""

    run_id: str
    customer_id: int
    flow: str
    status: str
    journal: list[JournalRow]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed delivery of an event to one target."""

    id: int
    event_id: int
    customer_id: int
    target: str
    attempts: int
    name: str
    data: Mapping[str, Any]
    created_at: float


class FollowupStore:
    """Scheduled work, events, deliveries and surveys, next to a `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._runner = store._runner
        self.owner = store.owner

    # -- scheduled work --------------------------------------------------------------------

    async def schedule(self, item: ScheduleWrite) -> bool:
        """Schedule one row; False when its key was already taken (LookupError when the
        customer does not exist)."""

        def write(conn: Connection) -> bool:
            known = conn.execute(
                select(_customers.c.id).where(_customers.c.id == item.customer_id)
            ).first()
            if known is None:
                raise LookupError(f"no customer {item.customer_id}")
            if item.key is not None:
                taken = conn.execute(
                    select(_scheduled.c.id).where(_scheduled.c.key == item.key)
                ).first()
                if taken is not None:
                    return False
            schedule(conn, [item], time.time())
            return True

        return await self._runner.run(write)

    async def fire_due(self, now: float, *, limit: int = 200) -> list[Accepted]:
        """Move due scheduled rows into their customers' lines (as inbox rows), once."""

        def write(conn: Connection) -> list[Accepted]:
            q = (
                select(
                    _scheduled.c.id,
                    _scheduled.c.customer_id,
                    _scheduled.c.kind,
                    _scheduled.c.run_id,
                    _scheduled.c.flow,
                    _scheduled.c.payload,
                )
                .where(_scheduled.c.status == "pending", _scheduled.c.due_at <= now)
                .order_by(_scheduled.c.due_at, _scheduled.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            due = list(conn.execute(q))
            if not due:
                return []
            customers = sorted({int(r[1]) for r in due})
            where = {
                int(r[0]): (int(r[1]), r[2], r[3], r[4])
                for r in conn.execute(
                    select(
                        _customers.c.id,
                        _identities.c.id,
                        _identities.c.channel,
                        _identities.c.external_id,
                        _identities.c.route,
                    )
                    .join(_identities, _identities.c.id == _customers.c.last_identity_id)
                    .where(_customers.c.id.in_(customers))
                )
            }
            rows: list[dict[str, Any]] = []
            fired: list[int] = []
            for sid, customer_id, kind, run_id, flow, payload in due:
                found = where.get(int(customer_id))
                if found is None:
                    conn.execute(
                        update(_scheduled)
                        .where(_scheduled.c.id == sid)
                        .values(status="failed", reason="the customer has no channel")
                    )
                    continue
                identity_id, channel, external_id, route = found
                message = {
                    "channel": channel,
                    "message_id": f"baton:{sid}",
                    "identity": external_id,
                    "control": WAKE_CONTROL,
                    "raw": {
                        "scheduled_id": int(sid),
                        "kind": kind,
                        "run_id": run_id,
                        "flow": flow,
                        "payload": payload or {},
                    },
                }
                if route is not None:
                    message["route"] = route
                rows.append(
                    {
                        "channel": channel,
                        "platform_message_id": f"baton:{sid}",
                        "customer_id": int(customer_id),
                        "identity_id": identity_id,
                        "payload": message,
                        "received_at": now,
                    }
                )
                fired.append(int(sid))
            ids = self._store._insert_inbox(conn, rows)
            out: list[Accepted] = []
            for sid, row, inbox_id in zip(fired, rows, ids, strict=True):
                conn.execute(
                    update(_scheduled)
                    .where(_scheduled.c.id == sid)
                    .values(status="fired", fired_at=now, inbox_id=inbox_id)
                )
                if inbox_id is not None:
                    out.append(
                        Accepted(inbox_id, row["customer_id"], row["identity_id"], row["payload"])
                    )
            return out

        return await self._runner.run(write)

    async def next_due(self) -> float | None:
        """When the next pending scheduled row is due, if any."""

        def read(conn: Connection) -> float | None:
            value = conn.execute(
                select(func.min(_scheduled.c.due_at)).where(_scheduled.c.status == "pending")
            ).scalar()
            return None if value is None else float(value)

        return await self._runner.run(read)

    async def run(self, run_id: str) -> RunRecord | None:
        """A flow run with its journal, or None."""

        def read(conn: Connection) -> RunRecord | None:
            row = conn.execute(
                select(_runs.c.customer_id, _runs.c.flow, _runs.c.status).where(
                    _runs.c.id == run_id
                )
            ).first()
            if row is None:
                return None
            journal = [
                JournalRow(int(r[0]), str(r[1]), str(r[2]), r[3])
                for r in conn.execute(
                    select(_journal.c.seq, _journal.c.kind, _journal.c.key, _journal.c.value)
                    .where(_journal.c.run_id == run_id)
                    .order_by(_journal.c.seq)
                )
            ]
            return RunRecord(run_id, int(row[0]), str(row[1]), str(row[2]), journal)

        return await self._runner.run(read)

    async def timers(self, customer_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """A customer's scheduled rows, newest first (for the console)."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(
                    _scheduled.c.id,
                    _scheduled.c.kind,
                    _scheduled.c.flow,
                    _scheduled.c.run_id,
                    _scheduled.c.due_at,
                    _scheduled.c.status,
                    _scheduled.c.reason,
                    _scheduled.c.created_at,
                    _scheduled.c.fired_at,
                )
                .where(_scheduled.c.customer_id == customer_id)
                .order_by(_scheduled.c.id.desc())
                .limit(limit)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    # -- events ----------------------------------------------------------------------------

    async def publish(
        self, customer_id: int, name: str, data: Mapping[str, Any] | None = None
    ) -> None:
        """Record an event in a transaction of its own."""
        await self._runner.run(lambda conn: publish(conn, customer_id, name, data))

    async def route_events(
        self, targets: Mapping[str, Callable[[str], bool]], *, limit: int = 500
    ) -> int:
        """Make one delivery per interested target (`targets[name](event name)`) of each
        event not yet routed; how many events were routed."""

        def write(conn: Connection) -> int:
            now = time.time()
            q = (
                select(_events.c.id, _events.c.customer_id, _events.c.name)
                .where(_events.c.routed.is_(False))
                .order_by(_events.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            events = list(conn.execute(q))
            if not events:
                return 0
            rows = [
                {
                    "event_id": int(e[0]),
                    "customer_id": int(e[1]),
                    "target": target,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for e in events
                for target, accepts in targets.items()
                if accepts(str(e[2]))
            ]
            if rows:
                ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                conn.execute(
                    ins(_deliveries).on_conflict_do_nothing(index_elements=["event_id", "target"]),
                    rows,
                )
            conn.execute(
                update(_events)
                .where(_events.c.id.in_([int(e[0]) for e in events]))
                .values(routed=True)
            )
            return len(events)

        return await self._runner.run(write)

    async def due_deliveries(
        self,
        now: float,
        targets: Sequence[str],
        *,
        claim: float = 60.0,
        limit: int = 100,
    ) -> list[Delivery]:
        """Claim deliveries to `targets` due now (this process's for `claim` seconds), oldest
        first. Deliveries to targets this process does not have are left to those that do."""

        def write(conn: Connection) -> list[Delivery]:
            q = (
                select(
                    _deliveries.c.id,
                    _deliveries.c.event_id,
                    _deliveries.c.customer_id,
                    _deliveries.c.target,
                    _deliveries.c.attempts,
                    _events.c.name,
                    _events.c.data,
                    _events.c.created_at,
                )
                .join(_events, _events.c.id == _deliveries.c.event_id)
                .where(
                    _deliveries.c.status == "pending",
                    _deliveries.c.next_attempt_at <= now,
                    _deliveries.c.target.in_(list(targets)),
                    or_(
                        _deliveries.c.claim_until.is_(None),
                        _deliveries.c.claim_until < now,
                        _deliveries.c.claimed_by == self.owner,
                    ),
                )
                .order_by(_deliveries.c.event_id, _deliveries.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True, of=_deliveries)
            rows = list(conn.execute(q))
            if rows:
                conn.execute(
                    update(_deliveries)
                    .where(_deliveries.c.id.in_([int(r[0]) for r in rows]))
                    .values(claimed_by=self.owner, claim_until=now + claim)
                )
            return [
                Delivery(int(r[0]), int(r[1]), int(r[2]), str(r[3]), int(r[4]), r[5], r[6], r[7])
                for r in rows
            ]

        return await self._runner.run(write)

    async def delivered(
        self,
        delivery: Delivery,
        *,
        response_status: int | None = None,
        then: ScheduleWrite | None = None,
    ) -> bool:
        """Mark a delivery done (with `then` scheduled in the same transaction); False when
        it was already marked (another process took it over after our claim ran out)."""

        def write(conn: Connection) -> bool:
            now = time.time()
            done = conn.execute(
                update(_deliveries)
                .where(_deliveries.c.id == delivery.id, _deliveries.c.status == "pending")
                .values(
                    status="delivered",
                    attempts=delivery.attempts + 1,
                    delivered_at=now,
                    response_status=response_status,
                    claimed_by=None,
                    claim_until=None,
                    last_error=None,
                )
            )
            if not done.rowcount:
                return False
            if then is not None:
                schedule(conn, [then], now)
            return True

        return await self._runner.run(write)

    async def retry(
        self,
        delivery: Delivery,
        *,
        at: float | None,
        error: str,
        response_status: int | None = None,
    ) -> None:
        """Record a failed attempt and when to try again (`at` None: give up)."""

        def write(conn: Connection) -> None:
            conn.execute(
                update(_deliveries)
                .where(_deliveries.c.id == delivery.id, _deliveries.c.status == "pending")
                .values(
                    status="pending" if at is not None else "failed",
                    attempts=delivery.attempts + 1,
                    next_attempt_at=at if at is not None else time.time(),
                    last_error=error[:2000],
                    response_status=response_status,
                    claimed_by=None,
                    claim_until=None,
                )
            )

        await self._runner.run(write)

    async def deliveries(
        self, *, event_id: int | None = None, target: str | None = None
    ) -> list[dict[str, Any]]:
        """The delivery log, oldest first, optionally of one event or target."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = select(_deliveries).order_by(_deliveries.c.id)
            if event_id is not None:
                q = q.where(_deliveries.c.event_id == event_id)
            if target is not None:
                q = q.where(_deliveries.c.target == target)
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    async def events(self, customer_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """A customer's events, oldest first."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(_events.c.id, _events.c.name, _events.c.data, _events.c.created_at)
                .where(_events.c.customer_id == customer_id)
                .order_by(_events.c.id)
                .limit(limit)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    async def pending_work(self, targets: Sequence[str]) -> bool:
        """Whether any event is unrouted or any delivery to `targets` is pending and due."""

        def read(conn: Connection) -> bool:
            now = time.time()
            unrouted = conn.execute(
                select(_events.c.id).where(_events.c.routed.is_(False)).limit(1)
            ).first()
            due = conn.execute(
                select(_deliveries.c.id)
                .where(
                    and_(
                        _deliveries.c.status == "pending",
                        _deliveries.c.next_attempt_at <= now,
                        _deliveries.c.target.in_(list(targets)),
                    )
                )
                .limit(1)
            ).first()
            return unrouted is not None or due is not None

        return await self._runner.run(read)

    # -- surveys ---------------------------------------------------------------------------

    async def record_survey(
        self, event_id: int, customer_id: int, data: Mapping[str, Any]
    ) -> None:
        """Store a survey answer from its survey.answered event (once per event)."""

        def write(conn: Connection) -> None:
            row = {
                "customer_id": customer_id,
                "event_id": event_id,
                "conversation_id": data.get("conversation_id"),
                "agent_id": data.get("agent_id"),
                "flow": data.get("flow"),
                "channel": str(data.get("channel") or ""),
                "kind": str(data.get("kind")),
                "score": int(data["score"]),
                "comment": data.get("comment"),
                "after": str(data.get("after") or "agent"),
                "created_at": time.time(),
            }
            insert_ignoring(conn, _surveys, [row], "event_id")

        await self._runner.run(write)

    async def last_surveyed(self, customer_id: int) -> float | None:
        """When this customer was last asked a survey (scheduled "start" of a survey flow)."""

        def read(conn: Connection) -> float | None:
            value = conn.execute(
                select(func.max(_scheduled.c.due_at)).where(
                    _scheduled.c.customer_id == customer_id,
                    _scheduled.c.key.like("survey:%"),
                    _scheduled.c.status.in_(("pending", "fired")),
                )
            ).scalar()
            return None if value is None else float(value)

        return await self._runner.run(read)

    async def surveys(self, customer_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """A customer's survey answers, newest first."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(_surveys)
                .where(_surveys.c.customer_id == customer_id)
                .order_by(_surveys.c.id.desc())
                .limit(limit)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)
