"""Scheduled work into customers' lines: due rows of `scheduled` become inbox rows (once,
also with several processes) and are queued on the customer's lane like messages.

The poller looks every `poll` seconds (one indexed query for rows due on the engine's clock)
and at once when work is scheduled in this process (`WorkScheduled`). Tests move the
engine's clock (`Running.advance`) and call `tick`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from storage import FollowupStore

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger("baton.followup")

__all__ = ["Scheduler"]


class Scheduler:
    """Moves due scheduled work into customers' lines."""

    def __init__(self, store: FollowupStore, *, poll: float = 1.0) -> None:
        self._store = store
        self.poll = poll
        self._engine: Engine | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def nudge(self) -> None:
        """Look for due work now."""
        self._wake.set()

    async def tick(self) -> int:
        """Queue the work due now on the engine's clock; how many rows."""
        engine = self._engine
        if engine is None:
            return 0
        async with self._lock:
            rows = await self._store.fire_due(engine.core.clock())
        for row in rows:
            engine.lanes.push(row)
        return len(rows)

    def start(self, engine: Engine) -> None:
        """Run in the background."""
        self._engine = engine
        self._task = asyncio.get_running_loop().create_task(
            self._forever(), name="baton-scheduler"
        )

    async def stop(self) -> None:
        """Stop polling; what is due stays for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("scheduled work could not be queued; trying again")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
