"""The store: the only module that writes SQL. Every write goes through group commit."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from storage import _schema
from storage._batch import Batcher
from storage._runner import Runner, open_runner, sqlite_driver
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

_SQLITE = sqlite.dialect(paramstyle="named")


class _Hot:
    """A statement the message path runs for every message: built and compiled once.

    On SQLite it runs on the driver's cursor, with the SQL SQLAlchemy compiles for it and the
    parameters converted by the columns' own types (JSONText, SafeText), so rows are stored
    exactly as through SQLAlchemy; SQLAlchemy's work per execution (cache lookup, parameter
    processing, result set-up) costs several times SQLite's own. On PostgreSQL it runs through
    SQLAlchemy like any statement (one round trip per group, not per row).
    """

    __slots__ = ("_convert", "_fixed", "sql", "stmt")

    def __init__(self, stmt: Insert | Update | Select[Any], *keys: str) -> None:
        self.stmt = stmt
        compiled = stmt.compile(dialect=_SQLITE, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(f"give every column with a default: {compiled.string}")
        for column in stmt.exported_columns:  # rows come back as the driver gives them
            if column.type.result_processor(_SQLITE, None) is not None:
                raise ValueError(f"{column} is converted when read: {compiled.string}")
        names = compiled.params  # every bound parameter: the caller's (None) and constants
        if missing := set(keys) - names.keys():
            raise ValueError(f"{sorted(missing)} are not parameters of {compiled.string}")
        self.sql = compiled.string
        convert = {
            name: proc
            for name in names
            if (proc := compiled.binds[name].type.bind_processor(_SQLITE)) is not None
        }
        self._fixed = {
            name: convert[name](value) if name in convert else value
            for name, value in names.items()
            if name not in keys
        }
        self._convert = tuple((name, proc) for name, proc in convert.items() if name in keys)

    def _params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {**self._fixed, **values}
        for name, convert in self._convert:
            params[name] = convert(params[name])
        return params

    def first(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Run once; the first returned row, or None."""
        if conn.dialect.name == "sqlite":
            rows = sqlite_driver(conn).execute(self.sql, self._params(values)).fetchall()
            return rows[0] if rows else None
        return conn.execute(self.stmt, values).first()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per parameter set (a statement without RETURNING)."""
        if not rows:
            return
        if conn.dialect.name == "sqlite":
            sqlite_driver(conn).executemany(self.sql, [self._params(r) for r in rows])
        else:
            conn.execute(self.stmt, rows)

    def changed(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run once per parameter set (SQLite only); how many rows the runs changed."""
        if not rows:
            return 0
        # executemany's rowcount sums each run's changes (total_changes would wrap at 2**31
        # on a connection that lives as long as the process).
        cursor = sqlite_driver(conn).executemany(self.sql, [self._params(r) for r in rows])
        return int(cursor.rowcount)


class _HotInsert:
    """An INSERT of many rows whose new ids the caller needs, in the order of the rows.

    PostgreSQL: one statement, RETURNING the ids in parameter order. SQLite: the ids are given,
    not returned. A Baton transaction on SQLite holds the write lock from its BEGIN IMMEDIATE,
    so the ids that follow the table's largest are free, and the rows go in with one
    `executemany`: they are the ids SQLite would have chosen itself (the largest id plus one;
    the tables have no AUTOINCREMENT). Returning an id per row cost a statement per row.

    `unique`: on SQLite, a row that collides with one already there on these columns is left
    out (ON CONFLICT DO NOTHING); see `new_ids`.
    """

    __slots__ = ("_given", "_largest", "_made", "_returning", "_unique")

    def __init__(self, table: Table, *keys: str, unique: Sequence[str] = ()) -> None:
        self._returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        given = sqlite.insert(table)
        if unique:
            given = given.on_conflict_do_nothing(index_elements=list(unique))
        self._unique = bool(unique)
        self._given = _Hot(given, "id", *keys)
        self._largest = f"SELECT max(id) FROM {table.name}"
        self._made = f"SELECT id FROM {table.name} WHERE id >= ? AND id < ?"

    def ids(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert `rows`; their new ids, in order. On SQLite, sets each row's "id"."""
        if self._unique:
            raise TypeError("an insert that may leave rows out gives new_ids")
        if not rows:
            return []
        if conn.dialect.name != "sqlite":
            return [int(row[0]) for row in conn.execute(self._returning, rows)]
        first = self._give_ids(conn, rows)
        self._given.many(conn, rows)
        return list(range(first, first + len(rows)))

    def new_ids(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """SQLite: insert `rows`; each one's new id, or None where it collided with a row
        already there or earlier in `rows` (the first of duplicates goes in)."""
        if not rows:
            return []
        first = self._give_ids(conn, rows)
        if self._given.changed(conn, rows) == len(rows):
            return list(range(first, first + len(rows)))
        made = {
            row[0] for row in sqlite_driver(conn).execute(self._made, (first, first + len(rows)))
        }
        return [row["id"] if row["id"] in made else None for row in rows]

    def _give_ids(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        (largest,) = sqlite_driver(conn).execute(self._largest).fetchone()
        first: int = (largest or 0) + 1
        for offset, row in enumerate(rows):
            row["id"] = first + offset
        return first


_MESSAGE_KEYS = (
    "customer_id",
    "conversation_id",
    "direction",
    "author",
    "channel",
    "identity_id",
    "text",
    "payload",
    "platform_message_id",
    "delivery_status",
    "error",
    "created_at",
)
_OUTBOX_KEYS = (
    "customer_id",
    "message_id",
    "channel",
    "identity_id",
    "external_id",
    "route",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "claimed_by",
    "claim_until",
    "created_at",
)
_INBOX_KEYS = (
    "channel",
    "platform_message_id",
    "customer_id",
    "identity_id",
    "payload",
    "received_at",
)

# The statements of every message, built once (SQLAlchemy then never rebuilds their cache key).
_MARK_DONE = (  # PostgreSQL: one statement per group
    update(_inbox)
    .where(_inbox.c.id.in_(bindparam("b_ids", expanding=True)), _inbox.c.processed_at.is_(None))
    .values(processed_at=bindparam("now"))
    .returning(_inbox.c.id)
)
_MARK_ONE = _Hot(  # SQLite: one statement, run per row; the rows changed are counted
    update(_inbox)
    .where(_inbox.c.id == bindparam("b_id"), _inbox.c.processed_at.is_(None))
    .values(processed_at=bindparam("now")),
    "b_id",
    "now",
)
_INSERT_MESSAGE = _HotInsert(_messages, *_MESSAGE_KEYS)
_INSERT_OUTBOX = _HotInsert(_outbox, *_OUTBOX_KEYS)
_INSERT_INBOX = _HotInsert(_inbox, *_INBOX_KEYS, unique=("channel", "platform_message_id"))
_PG_INSERT_INBOX = (  # PostgreSQL: the new rows come back in no promised order
    postgresql.insert(_inbox)
    .on_conflict_do_nothing(index_elements=["channel", "platform_message_id"])
    .returning(_inbox.c.id, _inbox.c.channel, _inbox.c.platform_message_id)
)
_INSERT_RUN = _Hot(insert(_runs), "id", "customer_id", "flow", "status", "started_at")
_INSERT_JOURNAL = _Hot(insert(_journal), "run_id", "seq", "kind", "key", "value", "created_at")


def _update_by_id(table: Table, **values: Any) -> _Hot:
    """A `_Hot` UPDATE of the row whose id is the parameter `b_id`; every `bindparam` among
    `values` is a parameter of its own name, anything else is a constant."""
    names = [v.key for v in values.values() if isinstance(v, BindParameter)]
    stmt = update(table).where(table.c.id == bindparam("b_id")).values(**values)
    return _Hot(stmt, "b_id", *names)


_END_RUN = _update_by_id(_runs, status=bindparam("b_status"), ended_at=bindparam("now"))
_TOUCH_CUSTOMER = _update_by_id(
    _customers,
    last_seen_at=bindparam("now"),
    active_run_id=bindparam("b_run"),
    last_identity_id=bindparam("b_identity"),
)
_SET_MEMORY = _update_by_id(_customers, memory=bindparam("b_memory"))
_SET_STATUS = _update_by_id(
    _conversations,
    status=bindparam("b_status"),
    status_at=bindparam("now"),
    handoff_reason=bindparam("b_reason"),
)
_SENT_OUTBOX = _update_by_id(
    _outbox,
    status="sent",
    sent_at=bindparam("now"),
    claimed_by=None,
    claim_until=None,
    attempts=_outbox.c.attempts + 1,
    last_error=None,
)
_SENT_MESSAGE = _update_by_id(
    _messages, delivery_status="sent", platform_message_id=bindparam("b_pid")
)
_IDENTITY = select(_identities.c.id, _identities.c.customer_id).where(
    _identities.c.channel == bindparam("b_channel"),
    _identities.c.external_id == bindparam("b_external"),
)
_IDENTITY_KEYS = (
    "channel",
    "external_id",
    "customer_id",
    "route",
    "display_name",
    "unreachable",
    "opted_out",
    "created_at",
    "last_seen_at",
)
_FIND_IDENTITY = _Hot(_IDENTITY, "b_channel", "b_external")
_NEW_CUSTOMER = _Hot(
    insert(_customers).returning(_customers.c.id), "created_at", "last_seen_at", "memory"
)
_NEW_CONVERSATION = _Hot(
    insert(_conversations).returning(_conversations.c.id),
    "customer_id",
    "status",
    "status_at",
    "created_at",
)
_SET_CONVERSATION = _update_by_id(_customers, conversation_id=bindparam("b_conversation"))
_IDENTITY_FLAGS = select(_identities.c.opted_out, _identities.c.unreachable).where(
    _identities.c.id == bindparam("b_id")
)
_STATES = (
    select(
        _customers.c.id,
        _customers.c.memory,
        _customers.c.conversation_id,
        _customers.c.active_run_id,
        _conversations.c.status,
    )
    .join(_conversations, _conversations.c.id == _customers.c.conversation_id)
    .where(_customers.c.id.in_(bindparam("b_ids", expanding=True)))
)
_STATE_FLOWS = select(_runs.c.id, _runs.c.flow).where(
    _runs.c.id.in_(bindparam("b_ids", expanding=True))
)
_STATE_JOURNALS = (
    select(_journal.c.run_id, _journal.c.seq, _journal.c.kind, _journal.c.key, _journal.c.value)
    .where(_journal.c.run_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(_journal.c.run_id, _journal.c.seq)
)
_PENDING_RANKED = (
    select(
        _inbox.c.id,
        _inbox.c.customer_id,
        _inbox.c.identity_id,
        _inbox.c.payload,
        func.row_number()
        .over(partition_by=_inbox.c.customer_id, order_by=_inbox.c.id)
        .label("rank"),
    )
    .where(
        _inbox.c.processed_at.is_(None),
        _inbox.c.customer_id.in_(bindparam("b_ids", expanding=True)),
    )
    .subquery()
)
_PENDING = (  # the first b_limit unhandled rows of each customer, in id order
    select(
        _PENDING_RANKED.c.id,
        _PENDING_RANKED.c.customer_id,
        _PENDING_RANKED.c.identity_id,
        _PENDING_RANKED.c.payload,
    )
    .where(_PENDING_RANKED.c.rank <= bindparam("b_limit"))
    .order_by(_PENDING_RANKED.c.id)
)
_LEFT = (
    select(_inbox.c.id)
    .where(_inbox.c.customer_id == bindparam("b_id"), _inbox.c.processed_at.is_(None))
    .limit(1)
)
_TAKE_LEASE = (
    update(_customers)
    .where(
        _customers.c.id == bindparam("b_id"),
        or_(
            _customers.c.lease_owner.is_(None),
            _customers.c.lease_owner == bindparam("b_owner"),
            _customers.c.lease_until < bindparam("now"),
        ),
    )
    .values(lease_owner=bindparam("b_owner"), lease_until=bindparam("b_until"))
)
_TAKE_LEASES = (
    update(_customers)
    .where(
        _customers.c.id.in_(bindparam("b_ids", expanding=True)),
        or_(
            _customers.c.lease_owner.is_(None),
            _customers.c.lease_owner == bindparam("b_owner"),
            _customers.c.lease_until < bindparam("now"),
        ),
    )
    .values(lease_owner=bindparam("b_owner"), lease_until=bindparam("b_until"))
    .returning(_customers.c.id)
)
_GIVE_LEASE = (
    update(_customers)
    .where(_customers.c.id == bindparam("b_id"), _customers.c.lease_owner == bindparam("b_owner"))
    .values(lease_owner=None, lease_until=None)
)


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
        owner = (
            self.new_identity_owner(conn, item.channel, item.external_id, now)
            if self.new_identity_owner is not None
            else None
        )
        new: CustomerState | None = None
        if owner is None:
            new = create_customer(conn, now)
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
            if conn.execute(_LEFT, {"b_id": customer_id}).first() is not None:
                out.append(False)
                continue
            conn.execute(_GIVE_LEASE, {"b_id": customer_id, "b_owner": self.owner})
            out.append(True)
        return out

    def _turn_many(self, conn: Connection, turns: Sequence[TurnWrite]) -> list[list[OutboxRow]]:
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
        for owner, message_id in zip(owners, _INSERT_MESSAGE.ids(conn, message_rows), strict=True):
            message_ids[owner] = message_id
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
            result = _INSERT_OUTBOX.ids(conn, outbox_rows)
            for ti, values, outbox_id in zip(outbox_owner, outbox_rows, result, strict=True):
                out[ti].append(
                    OutboxRow(
                        outbox_id,
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
            row = conn.execute(_IDENTITY_FLAGS, {"b_id": identity_id}).one()
            return {"opted_out": bool(row[0]), "unreachable": bool(row[1])}

        return await self._runner.run(read)

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


def create_customer(conn: Connection, now: float) -> CustomerState:
    """A new customer with a first conversation, in the bot's hands; returned as a turn would
    read it."""
    customer_id = int(
        _NEW_CUSTOMER.first(conn, {"created_at": now, "last_seen_at": now, "memory": {}})[0]
    )
    conversation_id = int(
        _NEW_CONVERSATION.first(
            conn,
            {"customer_id": customer_id, "status": "bot", "status_at": now, "created_at": now},
        )[0]
    )
    _SET_CONVERSATION.many(conn, [{"b_id": customer_id, "b_conversation": conversation_id}])
    return CustomerState(customer_id, conversation_id, "bot", {})


def _read_state(conn: Connection, customer_id: int) -> CustomerState:
    return _read_states(conn, [customer_id])[customer_id]


def _read_states(conn: Connection, customer_ids: Sequence[int]) -> dict[int, CustomerState]:
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


def _claim_many(
    conn: Connection, items: Sequence[tuple[int, str, float, int]]
) -> list[Claim | None]:
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
    states = _read_states(conn, sorted(set(claimed)))
    out: list[Claim | None] = []
    given: set[int] = set()
    for customer_id, owner, seconds, limit in items:
        if customer_id not in taken[(owner, seconds)]:
            out.append(None)
            continue
        # The same customer twice in a group: each claim gets its own state object.
        state = _read_state(conn, customer_id) if customer_id in given else states[customer_id]
        given.add(customer_id)
        out.append(Claim(pending[customer_id][:limit], state))
    return out


def _lease_many(conn: Connection, items: Sequence[tuple[int, str, float | None]]) -> list[bool]:
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


def _sent_many(conn: Connection, items: Sequence[tuple[int, int | None, list[str]]]) -> list[None]:
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
