"""Run a function over one database transaction, the cheapest way per backend.

SQLite: one connection of a synchronous engine, and a transaction runs right on the event loop's
thread. A Baton transaction is a group commit of many customers' small writes, a millisecond or
two of SQLite's own work; handing it to a thread cost more than that in hops and in the two
threads taking turns on the GIL (the benchmark measured 12% more messages per second and a
lower p99 inline). Transactions start with `BEGIN IMMEDIATE`, so a read-then-write transaction
never fails with SQLITE_BUSY_SNAPSHOT. The loop never waits for another process's lock: the
connection's busy timeout is 0 on the loop, and a transaction whose BEGIN finds the database
locked (`baton migrate`, `baton agent add` writing meanwhile) runs again on a helper thread
that waits up to 30 seconds; later transactions queue behind it there until it is done. The
write-ahead log is copied into the database file on a thread of its own (`storage._checkpoint`),
and only rarely inside a COMMIT on the loop.

PostgreSQL: SQLAlchemy's async engine on asyncpg; the same synchronous function runs through
`AsyncConnection.run_sync`, so the SQL code is written once for both.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage._checkpoint import BACKSTOP_PAGES, Checkpointer
from storage.errors import ConfigError

T = TypeVar("T")

log = logging.getLogger("baton.storage")

_BUSY_TIMEOUT_MS = 30_000
"""How long a transaction on the helper thread waits for another process's lock."""

__all__ = ["Runner", "open_runner", "sync_url"]


class Runner(Protocol):
    """Runs `fn(connection)` inside one transaction and returns its result."""

    dialect: str
    url: str

    async def run(self, fn: Callable[[Connection], T]) -> T: ...

    async def close(self) -> None: ...


def sync_url(url: str) -> str:
    """The synchronous-driver form of a Baton database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ConfigError(
        f"BATON_DATABASE_URL {parsed.render_as_string()!r} is not supported: use "
        "sqlite+aiosqlite:///path/to/baton.db or postgresql+asyncpg://user@host/db"
    )


class _SQLiteRunner:
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = os.path.dirname(os.path.abspath(database))
            if not os.path.isdir(folder):
                raise ConfigError(f"BATON_DATABASE_URL: folder {folder!r} does not exist")
        self.path = database
        self.checkpointer: Checkpointer | None = None
        """Checkpoints off the event loop; None for a database in memory."""
        if database and database != ":memory:" and not parsed.query.get("uri"):
            self.checkpointer = Checkpointer(os.path.abspath(database))
        self.engine: Engine = create_engine(
            parsed.set(drivername="sqlite"),
            connect_args={"check_same_thread": False, "timeout": 0},
            pool_size=1,
            max_overflow=0,
        )
        event.listen(self.engine, "connect", _sqlite_on_connect)
        if self.checkpointer is not None:
            event.listen(self.engine, "connect", _backstop_autocheckpoint)
        event.listen(self.engine, "begin", _sqlite_on_begin)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baton-sqlite")
        self._waiting = asyncio.Lock()
        """Held while a transaction waits for another process's lock on the helper thread."""
        self._conn: Connection | None = None
        """The one connection: used on the loop, or on the helper thread while `_waiting`."""

    def _tx(self, fn: Callable[[Connection], T], *, wait: bool) -> T:
        # One connection stays open: a pool checkout, its reset and their events per
        # transaction cost more CPU than SQLite's own work on a small transaction.
        conn = self._conn
        if conn is None:
            conn = self._conn = self.engine.connect()
        driver = sqlite_driver(conn)
        if wait:
            driver.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        try:
            try:
                transaction = conn.begin()  # BEGIN IMMEDIATE (the "begin" event)
            except OperationalError as exc:
                if not wait and _locked(exc):
                    raise _Locked from None
                raise
            with transaction:  # COMMIT, or ROLLBACK on an error
                result = fn(conn)
            if self.checkpointer is not None:
                self.checkpointer.committed()
            return result
        except BaseException:
            if conn.invalidated or conn.in_transaction() or _driver_in_transaction(conn):
                # Rollback did not leave a clean connection: open a new one next time.
                self._conn = None
                _close_quietly(conn)
            raise
        finally:
            if wait and self._conn is conn:
                driver.execute("PRAGMA busy_timeout=0")

    async def run(self, fn: Callable[[Connection], T]) -> T:
        if not self._waiting.locked():
            try:
                return self._tx(fn, wait=False)
            except _Locked:
                log.info("the SQLite database is locked by another process; waiting for it")
        async with self._waiting:
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(self._executor, lambda: self._tx(fn, wait=True))
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError:
                # The helper thread goes on with the one connection (and its long busy
                # timeout): the loop stays off it until the thread is done.
                await _outlast(done)
                raise

    def _dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()  # first: the last connection to close checkpoints
        if self._conn is not None:
            conn, self._conn = self._conn, None
            _close_quietly(conn)
        self.engine.dispose()

    async def close(self) -> None:
        async with self._waiting:
            self._dispose()
        self._executor.shutdown(wait=True)


async def _outlast(future: asyncio.Future[Any]) -> None:
    """Wait until `future` is done, through any further cancellation."""
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            continue
    if not future.cancelled() and future.exception() is not None:
        log.warning("a cancelled SQLite transaction failed", exc_info=future.exception())


class _Locked(Exception):
    """BEGIN found the database locked by another process (on the loop, without waiting)."""


def _locked(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:  # extended codes too: SQLITE_BUSY_RECOVERY, _SNAPSHOT, _TIMEOUT
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "database is locked" in str(exc.orig)


def _driver_in_transaction(conn: Connection) -> bool:
    try:
        return bool(conn.connection.dbapi_connection.in_transaction)  # type: ignore[union-attr]
    except Exception:
        return True


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except Exception:
        log.warning("closing a SQLite connection failed", exc_info=True)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" event below issues BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=0")  # see _SQLiteRunner: the loop never waits for a lock
    cur.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten, not left in free pages (erasure, retention: privacy).
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _backstop_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    # The runner's Checkpointer copies the log on a thread of its own; SQLite's own checkpoint
    # in a COMMIT is left as the backstop that lets the log start over (storage._checkpoint).
    dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")


def sqlite_driver(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under `conn`."""
    return cast(sqlite3.Connection, conn.connection.driver_connection)


def _sqlite_on_begin(conn: Connection) -> None:
    # Straight on the driver: SQLAlchemy's statement machinery cost more than the BEGIN itself.
    # A failure is raised as SQLAlchemy would have raised it (e.g. OperationalError, locked).
    try:
        sqlite_driver(conn).execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc


class _AsyncRunner:
    def __init__(self, url: str, search_path: str | None = None) -> None:
        self.url = url
        connect_args: dict[str, Any] = {}
        if search_path:
            connect_args["server_settings"] = {"search_path": search_path}
        # A fixed pool: overflow connections were opened and closed under load (measured by
        # tests/benchmarks: 155 connections per run instead of 20, and 13% fewer msgs/s).
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=20, max_overflow=0, connect_args=connect_args
        )
        self.dialect = self.engine.dialect.name

    async def run(self, fn: Callable[[Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn)

    async def close(self) -> None:
        await self.engine.dispose()


def open_runner(url: str, *, search_path: str | None = None) -> Runner:
    """A runner for `url` (sqlite+aiosqlite:// or postgresql+asyncpg://).

    `search_path` selects a PostgreSQL schema (tests use one schema each).
    """
    parsed = make_url(sync_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _SQLiteRunner(url)
    return _AsyncRunner(parsed.render_as_string(hide_password=False), search_path)
