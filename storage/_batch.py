"""Group commit: many callers' writes share one transaction.

Callers submit operations of a kind ("accept", "turn", "sent", ...) with a payload. While a
transaction runs, new operations queue; the next transaction, which starts one turn of the
event loop after the first operation woke the committer, takes all of them, and each kind's
`many(conn, payloads)` handles its group with a few multi-row statements. A caller's future
resolves only after the commit. If a transaction fails, each operation is retried alone, so one
bad operation never fails another customer's write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from storage._runner import Runner

log = logging.getLogger("baton.storage")

__all__ = ["Batcher", "Many"]

Many = Callable[[Connection, Sequence[Any]], Sequence[Any]]


@dataclass(slots=True)
class _Op:
    many: Many
    payload: Any
    future: asyncio.Future[Any]


class Batcher:
    """Queues operations and commits them together."""

    def __init__(self, runner: Runner, *, max_batch: int = 512) -> None:
        self._runner = runner
        self._max = max_batch
        self._queue: list[_Op] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop the committing task runs on; looked up once, not per operation."""
        self._closed = False

    async def submit(self, many: Many, payload: Any) -> Any:
        """Queue one operation and wait for its committed result."""
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        op = _Op(many, payload, loop.create_future())
        self._queue.append(op)
        if self._task is None:
            self._task = loop.create_task(self._commit_forever(), name="baton-group-commit")
        self._wake.set()
        return await op.future

    async def _commit_forever(self) -> None:
        while True:
            await self._wake.wait()
            # One more turn of the event loop first: the callers that turn wakes (webhooks
            # read, replies' sends answered) queue their writes too, so a transaction holds
            # more of them. Under the project benchmark: 22 -> 37 operations per transaction,
            # a third fewer commits, +12% and +26% msgs/s in two runs beside the code before.
            await asyncio.sleep(0)
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max]
                del self._queue[: self._max]
                await self._commit(batch)
            if self._closed:
                return

    async def _commit(self, batch: list[_Op]) -> None:
        try:
            results = await self._runner.run(lambda conn: _apply(conn, batch))
        except Exception:
            if len(batch) == 1:
                op = batch[0]
                exc = _last_error()
                if not op.future.done():
                    op.future.set_exception(exc)
                return
            log.warning(
                "group commit of %d operations failed; retrying one by one",
                len(batch),
                exc_info=True,
            )
            for op in batch:
                await self._commit([op])
            return
        for op, result in zip(batch, results, strict=True):
            if not op.future.done():
                op.future.set_result(result)

    async def close(self) -> None:
        """Finish queued work, then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task


def _last_error() -> BaseException:
    import sys

    exc = sys.exc_info()[1]
    assert exc is not None
    return exc


def _apply(conn: Connection, batch: list[_Op]) -> list[Any]:
    groups: dict[Many, list[int]] = {}
    for index, op in enumerate(batch):
        groups.setdefault(op.many, []).append(index)
    results: list[Any] = [None] * len(batch)
    for many, indexes in groups.items():
        out = many(conn, [batch[i].payload for i in indexes])
        for i, value in zip(indexes, out, strict=True):
            results[i] = value
    return results
