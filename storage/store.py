"""The store: the message path's API (inbox, leases, claims, a turn's commit, the outbox) over
group commit, with the reads of `storage.reads`. Its statements are in `storage._statements`,
its transactions in `storage.hot_path`; the console's, linking's and handoffs' SQL lives in
their own modules of this package (see `storage`).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage import _schema, hot_path
from storage._batch import Batcher
from storage._runner import Runner, open_runner
from storage._statements import (
    _FIND_IDENTITY,
    _GIVE_LEASE,
    _IDENTITY,
    _IDENTITY_KEYS,
    _INSERT_INBOX,
    _LEFT,
    _PG_INSERT_INBOX,
    _customers,
    _Hot,
    _identities,
    _inbox,
    _messages,
    _outbox,
)
from storage.errors import StoreLocked
from storage.outbound import OUTBOX_CLAIM
from storage.proofs import proven_owner
from storage.reads import StoreReads
from storage.records import (
    Accepted,
    Claim,
    CustomerState,
    NewInbound,
    OutboxRow,
    TurnWrite,
)


class Store(StoreReads):
    """Async access to Baton's tables. Create with `open_store`."""

    def __init__(self, runner: Runner, *, owner: str) -> None:
        self._runner = runner
        self._batch = Batcher(runner)
        self.owner = owner
        """This process's name in leases and claims."""
        self.dialect = runner.dialect
        self._identity_cache: dict[tuple[str, str], tuple[int, int]] = {}
        self._identity_epoch = 0  # bumped by forget_identities
        self._lock_file: Any = None
        ins = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self._ins_identity = _Hot(
            ins(_identities)
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(_identities.c.id),
            *_IDENTITY_KEYS,
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
            return [
                acc if acc is None or acc.new_customer is None else replace(acc, new_customer=None)
                for acc in result
            ]
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
        seen: dict[tuple[str, str], tuple[int, int]] = {}
        made: dict[int, CustomerState] = {}  # customers this transaction created
        rows: list[dict[str, Any]] = []
        for items in groups:
            for item in items:
                key = (item.channel, item.external_id)
                ids = seen.get(key) or self._identity_cache.get(key)
                if ids is None:
                    identity_id, customer_id, new = self._resolve_identity(conn, item, now)
                    ids = (identity_id, customer_id)
                    if new is not None:
                        made[customer_id] = new
                seen[key] = ids
                rows.append(
                    {
                        "channel": item.channel,
                        "platform_message_id": item.message_id,
                        "customer_id": ids[1],
                        "identity_id": ids[0],
                        "payload": item.payload,
                        "received_at": now,
                    }
                )
        inbox_ids = self._insert_inbox(conn, rows)
        out: list[list[Accepted | None]] = []
        at = 0
        for items in groups:
            accepted: list[Accepted | None] = []
            for item in items:
                inbox_id, row = inbox_ids[at], rows[at]
                at += 1
                accepted.append(
                    None
                    if inbox_id is None
                    else Accepted(
                        inbox_id,
                        row["customer_id"],
                        row["identity_id"],
                        item.payload,
                        made.pop(row["customer_id"], None),
                    )
                )
            out.append(accepted)
        return out

    def _insert_inbox(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int | None]:
        """Insert inbox rows in order; each one's id, or None when its (channel, platform
        message id) was already in the inbox (or earlier in `rows`)."""
        if not rows:
            return []
        if conn.dialect.name == "sqlite":
            return _INSERT_INBOX.new_ids(conn, rows)
        # PostgreSQL: one multi-row statement (one round trip); it returns the new rows only,
        # in no promised order, so they are matched by key. The first of duplicates wins (the
        # rows are inserted in order; a later duplicate conflicts and is skipped).
        new = {(r[1], r[2]): int(r[0]) for r in conn.execute(_PG_INSERT_INBOX, rows)}
        return [new.pop((row["channel"], row["platform_message_id"]), None) for row in rows]

    def _resolve_identity(
        self, conn: Connection, item: NewInbound, now: float
    ) -> tuple[int, int, CustomerState | None]:
        """(identity id, customer id, the state of the customer if this made it, else None)."""
        key = {"b_channel": item.channel, "b_external": item.external_id}
        row = _FIND_IDENTITY.first(conn, key)
        if row is not None:
            return int(row[0]), int(row[1]), None
        # The customer it joins when a proof names one (an SMS number proven by a Telegram
        # contact share); None makes a new customer. Only new identities ask.
        owner = proven_owner(conn, item.channel, item.external_id, now)
        new: CustomerState | None = None
        if owner is None:
            new = hot_path.create_customer(conn, now)
            customer_id = new.customer_id
        else:
            customer_id = owner
        got = self._ins_identity.first(
            conn,
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
        )
        if got is None:  # another process created it between our select and insert
            row = conn.execute(_IDENTITY, key).one()
            return int(row[0]), int(row[1]), None
        return int(got[0]), customer_id, new

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
        result: bool = await self._batch.submit(
            hot_path.lease_many, (customer_id, self.owner, seconds)
        )
        return result

    async def release_lease(self, customer_id: int) -> None:
        """Give the customer's line back."""
        if self.exclusive:
            return
        await self._batch.submit(hot_path.lease_many, (customer_id, self.owner, None))

    # -- turns -----------------------------------------------------------------------------

    async def load_state(self, customer_id: int) -> CustomerState:
        """The customer's conversation, memory and active flow run with its journal."""
        return await self._runner.run(lambda conn: hot_path.read_state(conn, customer_id))

    async def claim(self, customer_id: int, seconds: float, *, limit: int = 100) -> Claim | None:
        """Take the customer's lease and read their pending rows and state, in one batched
        transaction; None when another process holds the lease."""
        claim: Claim | None = await self._batch.submit(
            hot_path.claim_many, (customer_id, self.owner, seconds, limit)
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

    def _turn_many(self, conn: Connection, turns: Sequence[TurnWrite]) -> list[list[OutboxRow]]:
        return hot_path.write_turns(conn, self.owner, turns)

    def _release_many(self, conn: Connection, customer_ids: Sequence[int]) -> list[bool]:
        out: list[bool] = []
        for customer_id in customer_ids:
            if conn.execute(_LEFT, {"b_id": customer_id}).first() is not None:
                out.append(False)
                continue
            conn.execute(_GIVE_LEASE, {"b_id": customer_id, "b_owner": self.owner})
            out.append(True)
        return out

    async def outbox_sent(self, row: OutboxRow, platform_ids: Sequence[str]) -> None:
        """Record that a reply left."""
        await self._batch.submit(hot_path.sent_many, (row.id, row.message_id, list(platform_ids)))

    async def outbox_retry(self, row: OutboxRow, *, attempts: int, at: float, error: str) -> None:
        """Record a failed attempt and when to try again."""
        await self._batch.submit(hot_path.retry_many, (row.id, attempts, at, error, self.owner))

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
            hot_path.failed_many,
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
                    .values(claimed_by=self.owner, claim_until=now + OUTBOX_CLAIM)
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
        (storage.merges) call it inside their transaction, so the next accept reads the
        identity's customer from the database."""
        ids = set(customer_ids)
        self._identity_epoch += 1
        for key, (_, customer_id) in list(self._identity_cache.items()):
            if customer_id in ids:
                self._identity_cache.pop(key, None)

    async def identity(self, channel: str, external_id: str) -> tuple[int, int] | None:
        """(identity id, customer id) of a channel identity, or None."""
        cached = self._identity_cache.get((channel, external_id))
        if cached is not None:
            return cached

        def read(conn: Connection) -> tuple[int, int] | None:
            key = {"b_channel": channel, "b_external": external_id}
            row = conn.execute(_IDENTITY, key).first()
            return None if row is None else (int(row[0]), int(row[1]))

        return await self._runner.run(read)


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
