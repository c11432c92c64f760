"""Replies leave through the outbox: in order per customer, retried with exponential back-off,
honouring a platform's retry-after; a permanent failure is recorded, never retried forever.

Stopping (`Outbox.close`) lets every send in flight finish and be recorded, up to a grace time,
so a reply the platform has accepted is not sent again by the next start. Sends waiting (queued
behind another, or for a retry) stop at once and stay pending in the database. Only a send
still unanswered after the grace is cancelled: the platform may have accepted it, so the next
start may send it again, as after a kill."""

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
from bot.privacy.logs import scrub
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
        self._sending: set[int] = set()
        """Customers whose reply is in a platform call or having its result recorded."""
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None  # looked up once, not per reply
        self._signals = signals

    def enqueue(self, rows: list[OutboxRow]) -> None:
        """Send `rows` after what is already queued for the same customer."""
        if self._closing:
            return  # they stay pending in the database for the next start
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
            while queue and not self._closing:
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
            # From the platform call to the record of its outcome, a stop waits (`close`).
            self._sending.add(row.customer_id)
            try:
                retry = await self._attempt(row, adapter, attempts)
                if retry is None:
                    return
                delay, error = retry
                if attempts >= self.max_attempts:
                    log.error(
                        "outbox %s: giving up after %d attempts: %s",
                        row.id,
                        attempts,
                        scrub(error),
                    )
                    await self._store.outbox_failed(row, attempts=attempts, error=error)
                    return
                log.info(
                    "outbox %s: attempt %d failed (%s); next in %.1fs",
                    row.id,
                    attempts,
                    scrub(error),
                    delay,
                )
                await self._store.outbox_retry(
                    row, attempts=attempts, at=time.time() + delay, error=error
                )
                if self._closing:
                    return  # the retry is recorded; the next start makes it
            finally:
                self._sending.discard(row.customer_id)
            await asyncio.sleep(delay)

    async def _attempt(
        self, row: OutboxRow, adapter: Adapter, attempts: int
    ) -> tuple[float, str] | None:
        """One try at sending `row`, its outcome recorded; (delay, error) when to retry."""
        try:
            rendered = adapter.render(Prompt.from_json(row.payload))
            last_inbound = None
            if adapter.limits.reply_window is not None and row.identity_id is not None:
                # A channel with a customer-service window decides from the last inbound time.
                last_inbound = await self._store.last_inbound_at(row.customer_id, row.identity_id)
            # asyncio.timeout, not wait_for: wait_for wraps the send in a task of its own.
            async with asyncio.timeout(self.send_timeout):
                sent = await adapter.send(
                    Address(row.channel, row.external_id, row.route, last_inbound), rendered
                )
        except Unreachable as exc:
            log.info("outbox %s: %s is unreachable: %s", row.id, row.channel, scrub(str(exc)))
            flags = {"opted_out": True} if exc.code == "opted_out" else {"unreachable": True}
            await self._store.outbox_failed(row, attempts=attempts, error=str(exc), **flags)
            if row.identity_id is not None:
                self._signals.emit(IdentityFlagged(row.identity_id, flags))
            return None
        except SendError as exc:
            if not exc.retryable:
                log.warning("outbox %s: permanent failure: %s", row.id, scrub(str(exc)))
                await self._store.outbox_failed(row, attempts=attempts, error=str(exc))
                return None
            delay = (
                exc.retry_after
                if isinstance(exc, RateLimited)
                else backoff(attempts, base=self.base_delay, cap=self.max_delay)
            )
            return delay, f"{type(exc).__name__}: {exc}"
        except TimeoutError:
            delay = backoff(attempts, base=self.base_delay, cap=self.max_delay)
            return delay, f"no answer from {row.channel} within {self.send_timeout:g}s"
        except Exception as exc:
            log.exception("outbox %s: unexpected error sending on %s", row.id, row.channel)
            delay = backoff(attempts, base=self.base_delay, cap=self.max_delay)
            return delay, f"{type(exc).__name__}: {exc}"
        await self._store.outbox_sent(row, sent.platform_ids)
        return None

    async def close(self, grace: float = 10.0) -> None:
        """Stop sending: sends in flight finish and are recorded, for up to `grace` seconds;
        the rest stay pending in the database for the next start.

        A send still unanswered after `grace` is cancelled; the platform may have accepted it,
        so the next start may send it again (as after a kill).
        """
        self._closing = True
        waiting = [t for c, t in self._tasks.items() if c not in self._sending]
        for task in waiting:
            task.cancel()  # queued, or waiting out a retry: nothing of theirs is in flight
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            if late:
                log.warning(
                    "outbox: %d sends still unanswered after %gs; cancelled (the next start "
                    "may send them again)",
                    len(late),
                    grace,
                )
                for task in late:
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._queues.clear()
        self._inflight.clear()
