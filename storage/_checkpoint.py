"""SQLite's write-ahead log is copied into the database file on a thread of its own.

By default SQLite checkpoints inside the COMMIT that takes the log past 1,000 pages: on Baton's
event loop, where it stalled every turn waiting meanwhile. Profiled under the project benchmark
(`python -m tests.benchmarks.run`, py-spy on the server), those checkpoints were 4% of the
loop's time, reading and writing pages the loop had no need to wait for.

Baton's connection raises SQLite's automatic checkpoint from 1,000 pages to `BACKSTOP_PAGES`,
and `Checkpointer` runs a PASSIVE checkpoint on a helper thread with a connection of its own
after every `every` commits, unless one is still running. A PASSIVE checkpoint never blocks the
writer and never waits for a lock; SQLite copies what no reader still needs. The log starts
over from its beginning only at a BEGIN that finds all of it copied, which under steady load
rarely happens: the loop commits while the helper copies. So the log grows until it reaches
`BACKSTOP_PAGES`, where SQLite's own checkpoint runs once inside a COMMIT on the loop; the
helper has already copied nearly all of it, and the next BEGIN starts the log over. The log
stays under about 16 MB. The sqlite3 module lets go of the GIL while SQLite works, so on a
machine with a spare core the helper's copying costs the loop nothing. When the store closes,
the last connection to close checkpoints what is left and removes the log, as SQLite does by
itself.
"""

from __future__ import annotations

import logging
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("baton.storage")

__all__ = ["BACKSTOP_PAGES", "Checkpointer"]

BACKSTOP_PAGES = 4000
"""Log pages at which SQLite checkpoints inside a COMMIT after all (`wal_autocheckpoint`)."""


class Checkpointer:
    """PASSIVE checkpoints of the SQLite database at `path`, on a helper thread."""

    def __init__(self, path: str, *, every: int = 64) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.path = path
        self.every = every
        self._commits = 0
        self._running: Future[None] | None = None
        self._conn: sqlite3.Connection | None = None  # used on the helper thread only
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baton-checkpoint")
        self._closed = False
        self.checkpoints = 0
        """Checkpoints that ran to the end (not necessarily copying every page)."""

    def committed(self) -> None:
        """Count a commit; start a checkpoint after every `every` commits, unless one runs.
        Never raises: it is called after a COMMIT, which must not look failed."""
        self._commits += 1
        if self._commits < self.every or self._closed:
            return
        running = self._running
        if running is not None and not running.done():
            return
        self._commits = 0
        try:
            self._running = self._executor.submit(self._checkpoint)
        except RuntimeError as exc:  # no thread can start (interpreter shutting down, limits)
            log.warning("SQLite checkpoint not started (%s); SQLite's own one takes over", exc)

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                # timeout=0: a checkpoint that finds another one running gives up at once;
                # the next one copies what this one would have.
                self._conn = sqlite3.connect(
                    self.path, timeout=0, isolation_level=None, check_same_thread=False
                )
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:
            log.info("SQLite checkpoint skipped (%s); the next one copies the log", exc)

    def close(self) -> None:
        """Wait for a running checkpoint and close the helper's connection."""
        self._closed = True
        self._executor.shutdown(wait=True)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except sqlite3.Error:
                log.warning("closing the checkpoint connection failed", exc_info=True)
