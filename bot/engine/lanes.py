"""One customer at a time: each customer's messages are handled in arrival order, one by
one, while different customers run concurrently.

In one process a lane is an in-memory queue and a task. With several processes (PostgreSQL)
a lane first takes the customer's lease in the database, picks up rows other processes
committed, and after giving the lease back looks once more, so no row is left behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from bot.engine.signals import Activity, LaneClaimed, LaneReleased, Signals, StrayRows
from storage import Accepted, Store

log = logging.getLogger("baton.engine")

__all__ = ["Lanes"]

_LEASE_SECONDS = 60.0
_ACTIVITY = Activity()


class Lanes:
    """Per-customer ordered execution of inbox rows."""

    def __init__(
        self,
        store: Store,
        handle: Callable[[Accepted], Awaitable[None]],
        signals: Signals,
        *,
        concurrency: int = 256,
    ) -> None:
        self._store = store
        self._handle = handle
        self._queues: dict[int, deque[Accepted]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._queued: set[int] = set()
        self._done: dict[int, None] = {}  # recently handled inbox ids (bounded)
        self._slots = asyncio.Semaphore(concurrency)
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None  # looked up once, not per row
        self._signals = signals
        # Linking channels (bot.linking): a customer merged into another has no lane of its
        # own any more; rows still carrying its id go to the customer it was merged into.
        self._merged_into: dict[int, int] = {}
        self._finishing: dict[int, asyncio.Event] = {}  # merged customer -> row in flight done
        self._barriers: dict[int, list[asyncio.Event]] = {}  # lane -> wait before next row

    def merged(self, other: int, keep: int) -> None:
        """`other` was merged into `keep`: one lane for both from now on. Rows of `other`
        queued here move to `keep`'s lane (in inbox id order); a row `other`'s lane is
        handling right now finishes first, then `StrayRows` is emitted to sweep what it wrote."""
        for source, target in list(self._merged_into.items()):
            if target == other:
                self._merged_into[source] = keep
        self._merged_into[other] = keep
        self._merged_into.pop(keep, None)
        queue = self._queues.get(other)
        if not queue:
            return
        running = other in self._tasks
        if running:
            # `keep`'s next row waits until the row in flight on `other`'s lane is done, so
            # the merged customer's messages still run one at a time, in order.
            done = self._finishing.setdefault(other, asyncio.Event())
            self._barriers.setdefault(keep, []).append(done)
        moving = list(queue)[1:] if running else list(queue)
        for r in moving:
            queue.remove(r)
            self._queued.discard(r.inbox_id)
        if not queue:
            del self._queues[other]
        for r in sorted(moving, key=lambda r: r.inbox_id):
            self.push(r)

    def unmerged(self, customer_id: int) -> None:
        """`customer_id` has identities again (an unlink): it gets its own lane back."""
        self._merged_into.pop(customer_id, None)

    def push(self, row: Accepted) -> None:
        """Queue an inbox row on its customer's lane."""
        if self._closing or row.inbox_id in self._queued or row.inbox_id in self._done:
            return
        keep = self._merged_into.get(row.customer_id)
        if keep is not None:
            row = dataclasses.replace(row, customer_id=keep)
        self._queued.add(row.inbox_id)
        queue = self._queues.get(row.customer_id)
        if queue is None:
            queue = self._queues[row.customer_id] = deque()
        queue.append(row)
        if row.customer_id not in self._tasks:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            self._tasks[row.customer_id] = loop.create_task(
                self._run(row.customer_id), name=f"baton-lane-{row.customer_id}"
            )
            self._signals.emit(_ACTIVITY)

    @property
    def busy(self) -> int:
        """Customers with work queued or running."""
        return len(self._tasks)

    async def _run(self, customer_id: int) -> None:
        try:
            if self._store.exclusive:
                await self._drain(customer_id)
            else:
                await self._run_shared(customer_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("lane of customer %s stopped; its rows stay in the inbox", customer_id)
            self._drop(customer_id)
        finally:
            self._release_merged(customer_id)  # never leave a merged lane waiting
            self._tasks.pop(customer_id, None)
            queue = self._queues.get(customer_id)
            if queue is not None and not queue:
                del self._queues[customer_id]
            elif queue and not self._closing:
                # Rows arrived after the loop decided to stop: start again.
                self._tasks[customer_id] = asyncio.get_running_loop().create_task(
                    self._run(customer_id), name=f"baton-lane-{customer_id}"
                )
            self._signals.emit(_ACTIVITY)

    async def _drain(self, customer_id: int) -> None:
        # One engine process: the in-memory queue is complete and in commit order.
        queue = self._queues[customer_id]
        while queue and not self._closing:
            for barrier in self._barriers.pop(customer_id, ()):
                await barrier.wait()
            if customer_id in self._merged_into:  # merged before this row started
                moving = list(queue)
                queue.clear()
                for r in moving:
                    self._queued.discard(r.inbox_id)
                    self.push(r)
                return
            row = queue[0]
            await self._handle_one(row)
            queue.popleft()
            await self._after_row(customer_id)

    async def _after_row(self, customer_id: int) -> None:
        keep = self._merged_into.get(customer_id)
        try:
            if keep is not None:
                # Merged while this row was handled: what it wrote moves to `keep`.
                await self._signals.gather(StrayRows(customer_id, keep))
        finally:
            self._release_merged(customer_id)  # the lane merged into goes on

    def _release_merged(self, customer_id: int) -> None:
        done = self._finishing.pop(customer_id, None)
        if done is not None:
            done.set()

    async def _run_shared(self, customer_id: int) -> None:
        # Several processes: rows of this customer may be committed by any of them, so the
        # lane takes the customer's lease and reads their pending rows and state from the
        # database in one batched transaction, handles them in id order, and gives the lease
        # back only when no row is left (checked in the same transaction as the release).
        loop = asyncio.get_running_loop()
        while not self._closing:
            claim = await self._store.claim(customer_id, _LEASE_SECONDS)
            if claim is None:
                self._drop(customer_id)  # the holder picks our rows up
                return
            self._signals.emit(LaneClaimed(claim.state))
            self._forget_queued(customer_id)
            renew_at = loop.time() + _LEASE_SECONDS / 3
            for row in claim.rows:
                for barrier in self._barriers.pop(customer_id, ()):
                    await barrier.wait()  # a merged customer's row in flight (see merged)
                if row.inbox_id in self._done:
                    continue
                if customer_id in self._merged_into:
                    break  # merged into another: that customer's lane takes the rest
                if loop.time() > renew_at:
                    if not await self._store.acquire_lease(customer_id, _LEASE_SECONDS):
                        log.warning("lost the lease of customer %s", customer_id)
                        self._signals.emit(LaneReleased(customer_id))
                        return
                    renew_at = loop.time() + _LEASE_SECONDS / 3
                await self._handle_one(row)
                await self._after_row(customer_id)
            if await self._store.release_if_idle(customer_id):
                self._signals.emit(LaneReleased(customer_id))
                return

    async def _handle_one(self, row: Accepted) -> None:
        async with self._slots:
            await self._handle(row)
        self._queued.discard(row.inbox_id)
        self._done[row.inbox_id] = None
        if len(self._done) > 100_000:
            for key in list(self._done)[:50_000]:
                del self._done[key]

    def _forget_queued(self, customer_id: int) -> None:
        queue = self._queues.get(customer_id)
        while queue:
            self._queued.discard(queue.popleft().inbox_id)

    def _drop(self, customer_id: int) -> None:
        queue = self._queues.pop(customer_id, deque())
        for r in queue:
            self._queued.discard(r.inbox_id)

    async def close(self) -> None:
        """Let running turns finish; queued rows stay in the inbox for the next start."""
        self._closing = True
        for customer_id, queue in list(self._queues.items()):
            # keep only the row being handled
            while len(queue) > 1:
                self._queued.discard(queue.pop().inbox_id)
            if customer_id not in self._tasks:
                queue.clear()
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
