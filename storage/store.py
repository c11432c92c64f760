"""The store: the only module that writes SQL. Every write goes through group commit."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage import _schema
from storage._batch import Batcher
from storage._runner import Runner, open_runner
from storage.errors import AlreadyHandled, StoreLocked
from storage.records import (
    Accepted,
    Claim,
    CustomerState,
    JournalRow,
    MessageRow,
    NewInbound,
    OutboxRow,
    TurnWrite,
)
from storage.tables import metadata

__all__ = ["Store", "open_store"]

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_conversations: Table = metadata.tables["conversations"]
_messages: Table = metadata.tables["messages"]
_inbox: Table = metadata.tables["inbox"]
_outbox: Table = metadata.tables["outbox"]
_runs: Table = metadata.tables["flow_runs"]
_journal: Table = metadata.tables["flow_journal"]

_OUTBOX_CLAIM = 120.0  # seconds a process owns the replies it created before others may send


class Store:
    """Async access to Baton's tables. Create with `open_store`."""

    def __init__(self, runner: Runner, *, owner: str) -> None:
        self._runner = runner
        self._batch = Batcher(runner)
        self.owner = owner
        """This process's name in leases and claims."""
        self.dialect = runner.dialect
        self._identity_cache: dict[tuple[str, str], tuple[int, int]] = {}
        # Linking (storage.identities) sets this: the customer a channel identity seen for the
        # first time joins, when a proof names one (an SMS number proven by a Telegram
        # contact share); None makes a new customer. Only new identities consult it.
        self._identity_epoch = 0  # bumped by forget_identities
        self.new_identity_owner: Callable[[Connection, str, str, float], int | None] | None = None
        self._lock_file: Any = None
        ins = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self._ins_inbox = (
            ins(_inbox)
            .on_conflict_do_nothing(index_elements=["channel", "platform_message_id"])
            .returning(_inbox.c.id)
        )
        self._ins_identity = (
            ins(_identities)
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(_identities.c.id)
        )

    @property
    def exclusive(self) -> bool:
        """True when this process is the only engine on the database (SQLite)."""
        return self._lock_file is not None

    # -- lifecycle -------------------------------------------------------------------------

    def lock_exclusive(self) -> None:
        """On SQLite, make sure no other engine process uses the same file."""
        path = getattr(self._runner, "path", "")
        if self.dialect != "sqlite" or not path or path == ":memory:":
            return
        handle = open(f"{os.path.abspath(path)}.lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreLocked(
                f"another Baton process is already running on {path}; stop it first "
                "(SQLite serves one engine process; use PostgreSQL for several)"
            ) from None
        self._lock_file = handle

    async def close(self) -> None:
        """Finish queued writes and close connections."""
        await self._batch.close()
        await self._runner.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    async def schema_status(self) -> tuple[str | None, str]:
        """(current revision, head revision)."""
        return await self._runner.run(_schema.status)

    async def migrate(self) -> tuple[str | None, str]:
        """Bring the schema to the newest revision; returns (before, after)."""
        return await self._runner.run(_schema.upgrade)

    async def check_schema(self, *, create_if_empty: bool = True) -> None:
        """Raise `SchemaBehind` unless the schema is current; an empty database is created."""
        await self._runner.run(lambda c: _schema.check(c, create_if_empty=create_if_empty))

    # -- inbox -----------------------------------------------------------------------------

    async def accept(self, items: Sequence[NewInbound]) -> list[Accepted | None]:
        """Commit inbound messages; None for each one already in the inbox."""
        epoch = self._identity_epoch
        result: list[Accepted | None] = await self._batch.submit(self._accept_many, list(items))
        if epoch != self._identity_epoch:  # a link or unlink moved identities meanwhile
            return result
        for item, acc in zip(items, result, strict=True):
            if acc is not None:
                self._identity_cache[(item.channel, item.external_id)] = (
                    acc.identity_id,
                    acc.customer_id,
                )
        return result

    def _accept_many(
        self, conn: Connection, groups: Sequence[list[NewInbound]]
    ) -> list[list[Accepted | None]]:
        now = time.time()
        out: list[list[Accepted | None]] = []
        seen: dict[tuple[str, str], tuple[int, int]] = {}
        for items in groups:
            accepted: list[Accepted | None] = []
            for item in items:
                key = (item.channel, item.external_id)
                ids = seen.get(key) or self._identity_cache.get(key)
                if ids is None:
                    ids = self._resolve_identity(conn, item, now)
                seen[key] = ids
                identity_id, customer_id = ids
                row = conn.execute(
                    self._ins_inbox,
                    {
                        "channel": item.channel,
                        "platform_message_id": item.message_id,
                        "customer_id": customer_id,
                        "identity_id": identity_id,
                        "payload": item.payload,
                        "received_at": now,
                    },
                ).first()
                accepted.append(
                    None
                    if row is None
                    else Accepted(row[0], customer_id, identity_id, item.payload)
                )
            out.append(accepted)
        return out

    def _resolve_identity(self, conn: Connection, item: NewInbound, now: float) -> tuple[int, int]:
        row = conn.execute(
            select(_identities.c.id, _identities.c.customer_id).where(
                _identities.c.channel == item.channel,
                _identities.c.external_id == item.external_id,
            )
        ).first()
        if row is not None:
            return int(row[0]), int(row[1])
        owner = (
            self.new_identity_owner(conn, item.channel, item.external_id, now)
            if self.new_identity_owner is not None
            else None
        )
        customer_id = owner if owner is not None else self._new_customer(conn, now)
        got = conn.execute(
            self._ins_identity,
            {
                "channel": item.channel,
                "external_id": item.external_id,
                "customer_id": customer_id,
                "route": item.route,
                "display_name": item.display_name,
                "unreachable": False,
                "opted_out": False,
                "created_at": now,
                "last_seen_at": now,
            },
        ).first()
        if got is None:  # another process created it between our select and insert
            row = conn.execute(
                select(_identities.c.id, _identities.c.customer_id).where(
                    _identities.c.channel == item.channel,
                    _identities.c.external_id == item.external_id,
                )
            ).one()
            return int(row[0]), int(row[1])
        return int(got[0]), customer_id

    def _new_customer(self, conn: Connection, now: float) -> int:
        customer_id = int(
            conn.execute(
                insert(_customers).returning(_customers.c.id),
                {"created_at": now, "last_seen_at": now, "memory": {}},
            ).scalar_one()
        )
        conversation_id = int(
            conn.execute(
                insert(_conversations).returning(_conversations.c.id),
                {"customer_id": customer_id, "status": "bot", "status_at": now, "created_at": now},
            ).scalar_one()
        )
        conn.execute(
            update(_customers)
            .where(_customers.c.id == customer_id)
            .values(conversation_id=conversation_id)
        )
        return customer_id

    async def pending_inbox(
        self, *, customer_id: int | None = None, limit: int = 1000
    ) -> list[Accepted]:
        """Unprocessed inbox rows in arrival order (of one customer, or of customers this
        process may take: no live lease held by another process)."""

        def read(conn: Connection) -> list[Accepted]:
            q = (
                select(_inbox.c.id, _inbox.c.customer_id, _inbox.c.identity_id, _inbox.c.payload)
                .where(_inbox.c.processed_at.is_(None))
                .order_by(_inbox.c.id)
                .limit(limit)
            )
            if customer_id is not None:
                q = q.where(_inbox.c.customer_id == customer_id)
            elif not self.exclusive:
                now = time.time()
                q = q.join(_customers, _customers.c.id == _inbox.c.customer_id).where(
                    or_(
                        _customers.c.lease_owner.is_(None),
                        _customers.c.lease_owner == self.owner,
                        _customers.c.lease_until < now,
                    )
                )
            return [Accepted(int(r[0]), int(r[1]), int(r[2]), r[3]) for r in conn.execute(q)]

        return await self._runner.run(read)

    # -- leases (several processes on PostgreSQL) -------------------------------------------

    async def acquire_lease(self, customer_id: int, seconds: float) -> bool:
        """Take (or extend) this process's lease on a customer's message line."""
        if self.exclusive:
            return True
        result: bool = await self._batch.submit(_lease_many, (customer_id, self.owner, seconds))
        return result

    async def release_lease(self, customer_id: int) -> None:
        """Give the customer's line back."""
        if self.exclusive:
            return
        await self._batch.submit(_lease_many, (customer_id, self.owner, None))

    # -- turns -----------------------------------------------------------------------------

    async def load_state(self, customer_id: int) -> CustomerState:
        """The customer's conversation, memory and active flow run with its journal."""
        return await self._runner.run(lambda conn: _read_state(conn, customer_id))

    async def claim(self, customer_id: int, seconds: float, *, limit: int = 100) -> Claim | None:
        """Take the customer's lease and read their pending rows and state, in one batched
        transaction; None when another process holds the lease."""
        claim: Claim | None = await self._batch.submit(
            _claim_many, (customer_id, self.owner, seconds, limit)
        )
        return claim

    async def commit_turn(self, turn: TurnWrite) -> list[OutboxRow]:
        """Commit a turn's effects in one transaction; returns the replies to send."""
        rows: list[OutboxRow] = await self._batch.submit(self._turn_many, turn)
        return rows

    async def release_all(self) -> None:
        """Give back every lease and unsent-reply claim of this store (a graceful stop), so
        another process takes over at once instead of after the claims expire."""

        def write(conn: Connection) -> None:
            conn.execute(
                update(_customers)
                .where(_customers.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            conn.execute(
                update(_outbox)
                .where(_outbox.c.claimed_by == self.owner, _outbox.c.status == "pending")
                .values(claimed_by=None, claim_until=None)
            )

        await self._runner.run(write)

    async def release_if_idle(self, customer_id: int) -> bool:
        """Give the customer's lease back unless an unhandled row of theirs is left (checked
        in the same transaction, so a row committed meanwhile is never stranded)."""
        released: bool = await self._batch.submit(self._release_many, customer_id)
        return released

    def _release_many(self, conn: Connection, customer_ids: Sequence[int]) -> list[bool]:
        out: list[bool] = []
        for customer_id in customer_ids:
            left = conn.execute(
                select(_inbox.c.id)
                .where(_inbox.c.customer_id == customer_id, _inbox.c.processed_at.is_(None))
                .limit(1)
            ).first()
            if left is not None:
                out.append(False)
                continue
            conn.execute(
                update(_customers)
                .where(_customers.c.id == customer_id, _customers.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            out.append(True)
        return out

    def _turn_many(self, conn: Connection, turns: Sequence[TurnWrite]) -> list[list[OutboxRow]]:
        now = time.time()
        done = [t.inbox_id for t in turns if t.inbox_id is not None]
        if done:
            marked = set(
                conn.execute(
                    update(_inbox)
                    .where(_inbox.c.id.in_(done), _inbox.c.processed_at.is_(None))
                    .values(processed_at=now)
                    .returning(_inbox.c.id)
                ).scalars()
            )
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
                        "direction": "in",
                        "author": "customer",
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
                    {
                        "customer_id": t.customer_id,
                        "conversation_id": t.conversation_id,
                        "direction": "out",
                        "author": r.author,
                        "channel": r.channel,
                        "identity_id": r.identity_id,
                        "text": r.text,
                        "payload": r.prompt,
                        "platform_message_id": None,
                        "delivery_status": "pending" if r.send else "not sent",
                        "error": None if r.send else "opted out or unreachable",
                        "created_at": now,
                    }
                )
                owners.append((ti, ri))
        message_ids: dict[tuple[int, int], int] = {}
        if message_rows:
            result = conn.execute(
                insert(_messages).returning(_messages.c.id, sort_by_parameter_order=True),
                message_rows,
            )
            for owner, row in zip(owners, result, strict=True):
                message_ids[owner] = int(row[0])
        outbox_rows: list[dict[str, Any]] = []
        outbox_owner: list[int] = []
        for ti, t in enumerate(turns):
            for ri, r in enumerate(t.replies):
                if not r.send:
                    continue
                outbox_rows.append(
                    {
                        "customer_id": t.customer_id,
                        "message_id": message_ids[(ti, ri)],
                        "channel": r.channel,
                        "identity_id": r.identity_id,
                        "external_id": r.external_id,
                        "route": r.route,
                        "payload": r.prompt,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "claimed_by": self.owner,
                        "claim_until": now + _OUTBOX_CLAIM,
                        "created_at": now,
                    }
                )
                outbox_owner.append(ti)
        out: list[list[OutboxRow]] = [[] for _ in turns]
        if outbox_rows:
            result = conn.execute(
                insert(_outbox).returning(_outbox.c.id, sort_by_parameter_order=True),
                outbox_rows,
            )
            for ti, values, row in zip(outbox_owner, outbox_rows, result, strict=True):
                out[ti].append(
                    OutboxRow(
                        int(row[0]),
                        values["customer_id"],
                        values["message_id"],
                        values["channel"],
                        values["identity_id"],
                        values["external_id"],
                        values["route"],
                        values["payload"],
                        0,
                        now,
                    )
                )
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
        if new_runs:
            conn.execute(insert(_runs), new_runs)
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
        if journal:
            conn.execute(insert(_journal), journal)
        ended = [
            {"b_id": run_id, "b_status": status, "now": now}
            for t in turns
            for run_id, status in t.ended_runs
        ]
        if ended:
            conn.execute(
                update(_runs)
                .where(_runs.c.id == bindparam("b_id"))
                .values(status=bindparam("b_status"), ended_at=bindparam("now")),
                ended,
            )
        conn.execute(
            update(_customers)
            .where(_customers.c.id == bindparam("b_id"))
            .values(
                last_seen_at=bindparam("now"),
                active_run_id=bindparam("b_run"),
                last_identity_id=bindparam("b_identity"),
            ),
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
        for t in turns:
            if t.memory is not None:
                conn.execute(
                    update(_customers)
                    .where(_customers.c.id == t.customer_id)
                    .values(memory=t.memory)
                )
            if t.status is not None:
                conn.execute(
                    update(_conversations)
                    .where(_conversations.c.id == t.conversation_id)
                    .values(status=t.status, status_at=now, handoff_reason=t.handoff_reason)
                )
            if t.identity_flags and t.identity_id is not None:
                conn.execute(
                    update(_identities)
                    .where(_identities.c.id == t.identity_id)
                    .values(**t.identity_flags)
                )
        return out

    # -- outbox ----------------------------------------------------------------------------

    async def outbox_sent(self, row: OutboxRow, platform_ids: Sequence[str]) -> None:
        """Record that a reply left."""
        await self._batch.submit(_sent_many, (row.id, row.message_id, list(platform_ids)))

    async def outbox_retry(self, row: OutboxRow, *, attempts: int, at: float, error: str) -> None:
        """Record a failed attempt and when to try again."""
        await self._batch.submit(_retry_many, (row.id, attempts, at, error, self.owner))

    async def outbox_failed(
        self,
        row: OutboxRow,
        *,
        attempts: int,
        error: str,
        unreachable: bool = False,
        opted_out: bool = False,
    ) -> None:
        """Record a permanent failure; never retried. Optionally flag the identity."""
        await self._batch.submit(
            _failed_many,
            (row.id, row.message_id, attempts, error, row.identity_id, unreachable, opted_out),
        )

    async def due_outbox(self, *, limit: int = 500) -> list[OutboxRow]:
        """Claim pending replies whose claim expired (crash recovery, retries of others)."""

        def claim(conn: Connection) -> list[OutboxRow]:
            now = time.time()
            cond = and_(_outbox.c.status == "pending", _outbox.c.next_attempt_at <= now)
            if not self.exclusive:  # with one engine process every pending row is ours
                cond = and_(
                    cond,
                    or_(
                        _outbox.c.claim_until.is_(None),
                        _outbox.c.claim_until < now,
                        _outbox.c.claimed_by == self.owner,
                    ),
                )
            q = select(_outbox).where(cond).order_by(_outbox.c.id).limit(limit)
            if self.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(conn.execute(q).mappings())
            if rows:
                conn.execute(
                    update(_outbox)
                    .where(_outbox.c.id.in_([r["id"] for r in rows]))
                    .values(claimed_by=self.owner, claim_until=now + _OUTBOX_CLAIM)
                )
            return [
                OutboxRow(
                    r["id"],
                    r["customer_id"],
                    r["message_id"],
                    r["channel"],
                    r["identity_id"],
                    r["external_id"],
                    r["route"],
                    r["payload"],
                    r["attempts"],
                    r["next_attempt_at"],
                )
                for r in rows
            ]

        return await self._runner.run(claim)

    async def delivery_status(
        self, channel: str, platform_id: str, status: str, error: str | None
    ) -> bool:
        """Record a platform delivery receipt on the message; False if no message matches."""

        def write(conn: Connection) -> bool:
            result = conn.execute(
                update(_messages)
                .where(
                    _messages.c.channel == channel, _messages.c.platform_message_id == platform_id
                )
                .values(delivery_status=status, error=error)
            )
            return bool(result.rowcount)

        return await self._runner.run(write)

    # -- identities ------------------------------------------------------------------------

    def forget_identities(self, customer_ids: Collection[int]) -> None:
        """Drop cached identity -> customer entries of these customers: linking and unlinking
        (storage.identities) call it inside their transaction, so the next accept reads the
        identity's customer from the database."""
        ids = set(customer_ids)
        self._identity_epoch += 1
        for key, (_, customer_id) in list(self._identity_cache.items()):
            if customer_id in ids:
                self._identity_cache.pop(key, None)

    async def identity_flags(self, identity_id: int) -> dict[str, bool]:
        """{"opted_out": ..., "unreachable": ...} of one identity."""

        def read(conn: Connection) -> dict[str, bool]:
            row = conn.execute(
                select(_identities.c.opted_out, _identities.c.unreachable).where(
                    _identities.c.id == identity_id
                )
            ).one()
            return {"opted_out": bool(row[0]), "unreachable": bool(row[1])}

        return await self._runner.run(read)

    async def identity(self, channel: str, external_id: str) -> tuple[int, int] | None:
        """(identity id, customer id) of a channel identity, or None."""
        cached = self._identity_cache.get((channel, external_id))
        if cached is not None:
            return cached

        def read(conn: Connection) -> tuple[int, int] | None:
            row = conn.execute(
                select(_identities.c.id, _identities.c.customer_id).where(
                    _identities.c.channel == channel, _identities.c.external_id == external_id
                )
            ).first()
            return None if row is None else (int(row[0]), int(row[1]))

        return await self._runner.run(read)

    # -- reading for people ----------------------------------------------------------------

    async def messages(
        self, customer_id: int, *, after: int = 0, limit: int = 100
    ) -> list[MessageRow]:
        """A customer's messages after id `after`, oldest first, at most `limit`."""

        def read(conn: Connection) -> list[MessageRow]:
            q = (
                select(
                    _messages.c.id,
                    _messages.c.customer_id,
                    _messages.c.direction,
                    _messages.c.author,
                    _messages.c.channel,
                    _messages.c.text,
                    _messages.c.payload,
                    _messages.c.delivery_status,
                    _messages.c.created_at,
                )
                .where(_messages.c.customer_id == customer_id, _messages.c.id > after)
                .order_by(_messages.c.id)
                .limit(limit)
            )
            return [MessageRow(*r) for r in conn.execute(q)]

        return await self._runner.run(read)

    async def conversation(self, customer_id: int) -> Mapping[str, Any]:
        """The customer's current conversation row."""

        def read(conn: Connection) -> Mapping[str, Any]:
            q = (
                select(_conversations)
                .join(_customers, _customers.c.conversation_id == _conversations.c.id)
                .where(_customers.c.id == customer_id)
            )
            return dict(conn.execute(q).mappings().one())

        return await self._runner.run(read)

    async def outbox(self, customer_id: int) -> list[Mapping[str, Any]]:
        """A customer's outbox rows, oldest first (for tests and the console)."""

        def read(conn: Connection) -> list[Mapping[str, Any]]:
            q = select(_outbox).where(_outbox.c.customer_id == customer_id).order_by(_outbox.c.id)
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    async def count(self, table: str) -> int:
        """Rows in a table (tests, diagnostics)."""
        from sqlalchemy import func

        t = metadata.tables[table]
        return int(
            await self._runner.run(
                lambda c: c.execute(select(func.count()).select_from(t)).scalar_one()
            )
        )


def _read_state(conn: Connection, customer_id: int) -> CustomerState:
    c = conn.execute(
        select(
            _customers.c.memory, _customers.c.conversation_id, _customers.c.active_run_id
        ).where(_customers.c.id == customer_id)
    ).one()
    status = conn.execute(
        select(_conversations.c.status).where(_conversations.c.id == c[1])
    ).scalar_one()
    state = CustomerState(customer_id, int(c[1]), str(status), dict(c[0] or {}), c[2])
    if state.active_run_id:
        state.active_flow = conn.execute(
            select(_runs.c.flow).where(_runs.c.id == state.active_run_id)
        ).scalar_one_or_none()
        state.journal = [
            JournalRow(int(r[0]), str(r[1]), str(r[2]), r[3])
            for r in conn.execute(
                select(_journal.c.seq, _journal.c.kind, _journal.c.key, _journal.c.value)
                .where(_journal.c.run_id == state.active_run_id)
                .order_by(_journal.c.seq)
            )
        ]
    return state


def _read_pending(conn: Connection, customer_id: int, limit: int) -> list[Accepted]:
    q = (
        select(_inbox.c.id, _inbox.c.customer_id, _inbox.c.identity_id, _inbox.c.payload)
        .where(_inbox.c.processed_at.is_(None), _inbox.c.customer_id == customer_id)
        .order_by(_inbox.c.id)
        .limit(limit)
    )
    return [Accepted(int(r[0]), int(r[1]), int(r[2]), r[3]) for r in conn.execute(q)]


def _claim_many(
    conn: Connection, items: Sequence[tuple[int, str, float, int]]
) -> list[Claim | None]:
    got = _lease_many(
        conn, [(customer_id, owner, seconds) for customer_id, owner, seconds, _ in items]
    )
    out: list[Claim | None] = []
    for (customer_id, _, _, limit), acquired in zip(items, got, strict=True):
        if not acquired:
            out.append(None)
            continue
        out.append(Claim(_read_pending(conn, customer_id, limit), _read_state(conn, customer_id)))
    return out


def _lease_many(conn: Connection, items: Sequence[tuple[int, str, float | None]]) -> list[bool]:
    now = time.time()
    out: list[bool] = []
    for customer_id, owner, seconds in items:
        if seconds is None:
            conn.execute(
                update(_customers)
                .where(_customers.c.id == customer_id, _customers.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
            out.append(True)
            continue
        result = conn.execute(
            update(_customers)
            .where(
                _customers.c.id == customer_id,
                or_(
                    _customers.c.lease_owner.is_(None),
                    _customers.c.lease_owner == owner,
                    _customers.c.lease_until < now,
                ),
            )
            .values(lease_owner=owner, lease_until=now + seconds)
        )
        out.append(bool(result.rowcount))
    return out


def _sent_many(conn: Connection, items: Sequence[tuple[int, int | None, list[str]]]) -> list[None]:
    now = time.time()
    conn.execute(
        update(_outbox)
        .where(_outbox.c.id == bindparam("b_id"))
        .values(
            status="sent",
            sent_at=bindparam("now"),
            claimed_by=None,
            claim_until=None,
            attempts=_outbox.c.attempts + 1,
            last_error=None,
        ),
        [{"b_id": oid, "now": now} for oid, _, _ in items],
    )
    with_message = [
        {"b_id": mid, "b_pid": ids[0] if ids else None} for _, mid, ids in items if mid is not None
    ]
    if with_message:
        conn.execute(
            update(_messages)
            .where(_messages.c.id == bindparam("b_id"))
            .values(delivery_status="sent", platform_message_id=bindparam("b_pid")),
            with_message,
        )
    return [None] * len(items)


def _retry_many(conn: Connection, items: Sequence[tuple[int, int, float, str, str]]) -> list[None]:
    for oid, attempts, at, error, owner in items:
        conn.execute(
            update(_outbox)
            .where(_outbox.c.id == oid)
            .values(
                attempts=attempts,
                next_attempt_at=at,
                last_error=error[:2000],
                claimed_by=owner,
                claim_until=at + _OUTBOX_CLAIM,
            )
        )
    return [None] * len(items)


def _failed_many(
    conn: Connection,
    items: Sequence[tuple[int, int | None, int, str, int | None, bool, bool]],
) -> list[None]:
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


async def open_store(
    url: str, *, owner: str | None = None, engine: bool = False, search_path: str | None = None
) -> Store:
    """Open the database at `url`.

    Args:
        url: `sqlite+aiosqlite:///./baton.db` or `postgresql+asyncpg://user@host/db`.
        owner: this store's name in leases; defaults to host, pid and a random part.
        engine: True for the process that handles messages; on SQLite it then takes an
            exclusive lock on the file, so two engines never share one SQLite database.
        search_path: a PostgreSQL schema to use instead of the default.
    """
    import socket
    import uuid

    store = Store(
        open_runner(url, search_path=search_path),
        owner=owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
    )
    if engine:
        try:
            store.lock_exclusive()
        except StoreLocked:
            await store.close()
            raise
    return store
