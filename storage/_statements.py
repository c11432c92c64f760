"""The statements of the message path, built and compiled once, and the helpers that run
them lean (`_Hot`, `_HotInsert`). Private to the storage layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from storage._runner import sqlite_driver
from storage.tables import metadata

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_conversations: Table = metadata.tables["conversations"]
_messages: Table = metadata.tables["messages"]
_inbox: Table = metadata.tables["inbox"]
_outbox: Table = metadata.tables["outbox"]
_runs: Table = metadata.tables["flow_runs"]
_journal: Table = metadata.tables["flow_journal"]


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
