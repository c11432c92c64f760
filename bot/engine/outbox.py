"""Replies leave through the outbox: in order per customer, retried with exponential back-off,
honouring a platform's retry-after; a permanent failure is recorded, never retried forever."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Mapping

from adapters.base import Adapter, Address
from adapters.errors import RateLimited, SendError, Unreachable
from bot.engine.signals import Activity, IdentityFlagged, Signals
from dialogs.prompts import Prompt
from storage import OutboxRow, Store

log = logging.getLogger("baton.outbox")

__all__ = ["Outbox", "backoff"]
_ACTIVITY = Activity()


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait before try `attempt + 1`: exponential, capped, with jitter."""
    delay: float = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * (0.5 + random.random() / 2)


class Outbox:
    """Sends outbox rows through the channel adapters."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        signals: Signals,
        *,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 600.0,
        send_timeout: float = 30.0,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.send_timeout = send_timeout
        self._queues: dict[int, deque[OutboxRow]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._inflight: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # looked up once, not per reply
        self._signals = signals

    def enqueue(self, rows: list[OutboxRow]) -> None:
        """Send `rows` after what is already queued for the same customer."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        for row in rows:
            if row.id in self._inflight:
                continue
            self._inflight.add(row.id)
            queue = self._queues.get(row.customer_id)
            if queue is None:
                queue = self._queues[row.customer_id] = deque()
            queue.append(row)
            if row.customer_id not in self._tasks:
                self._tasks[row.customer_id] = loop.create_task(
                    self._chain(row.customer_id), name=f"baton-send-{row.customer_id}"
                )
        self._signals.emit(_ACTIVITY)

    @property
    def pending(self) -> int:
        """Rows queued or being sent in this process."""
        return len(self._inflight)

    async def _chain(self, customer_id: int) -> None:
        queue = self._queues[customer_id]
        try:
            while queue:
                row = queue[0]
                await self._deliver(row)
                queue.popleft()
                self._inflight.discard(row.id)
        finally:
            self._tasks.pop(customer_id, None)
            if not queue:
                self._queues.pop(customer_id, None)
            self._signals.emit(_ACTIVITY)

    async def _deliver(self, row: OutboxRow) -> None:
        attempts = row.attempts
        wait = row.next_attempt_at - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        adapter = self._adapters.get(row.channel)
        if adapter is None:
            await self._store.outbox_failed(
                row,
                attempts=attempts,
                error=f"channel {row.channel!r} is not configured in this Baton",
            )
            log.error("outbox %s: no adapter for channel %r", row.id, row.channel)
            return
        while True:
            attempts += 1
            try:
                rendered = adapter.render(Prompt.from_json(row.payload))
                # asyncio.timeout, not wait_for: wait_for wraps the send in a task of its own.
                async with asyncio.timeout(self.send_timeout):
                    sent = await adapter.send(
                        Address(row.channel, row.external_id, row.route), rendered
                    )
            except Unreachable as exc:
                log.info("outbox %s: %s is unreachable: %s", row.id, row.channel, exc)
                flags = {"opted_out": True} if exc.code == "opted_out" else {"unreachable": True}
                await self._store.outbox_failed(row, attempts=attempts, error=str(exc), **flags)
                if row.identity_id is not None:
                    self._signals.emit(IdentityFlagged(row.identity_id, flags))
                return
            except SendError as exc:
                if not exc.retryable:
                    log.warning("outbox %s: permanent failure: %s", row.id, exc)
                    await self._store.outbox_failed(row, attempts=attempts, error=str(exc))
                    return
                delay = (
                    exc.retry_after
                    if isinstance(exc, RateLimited)
                    else backoff(attempts, base=self.base_delay, cap=self.max_delay)
                )
                error = f"{type(exc).__name__}: {exc}"
            except TimeoutError:
                delay = backoff(attempts, base=self.base_delay, cap=self.max_delay)
                error = f"no answer from {row.channel} within {self.send_timeout:g}s"
            except Exception as exc:
                log.exception("outbox %s: unexpected error sending on %s", row.id, row.channel)
                delay = backoff(attempts, base=self.base_delay, cap=self.max_delay)
                error = f"{type(exc).__name__}: {exc}"
            else:
                await self._store.outbox_sent(row, sent.platform_ids)
                return
            if attempts >= self.max_attempts:
                log.error("outbox %s: giving up after %d attempts: %s", row.id, attempts, error)
                await self._store.outbox_failed(row, attempts=attempts, error=error)
                return
            at = time.time() + delay
            log.info(
                "outbox %s: attempt %d failed (%s); next in %.1fs", row.id, attempts, error, delay
            )
            await self._store.outbox_retry(row, attempts=attempts, at=at, error=error)
            await asyncio.sleep(delay)

    async def close(self) -> None:
        """Stop sending; unsent rows stay pending in the database for the next start."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._queues.clear()
        self._inflight.clear()
