"""The retention job: deletes what is older than its kind's period (`storage.retention`),
on a timer in every engine process, run by one of them per period (the claim in
`job_claims`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from bot.settings import Settings
from storage.privacy import PrivacyStore

__all__ = ["RetentionJob", "periods"]

log = logging.getLogger("baton.privacy")


def periods(settings: Settings) -> dict[str, float]:
    """The retention period of each kind, in days, from the settings (0: kept forever)."""
    return {
        "inbox": settings.retention_inbox_days,
        "outbox": settings.retention_outbox_days,
        "messages": settings.retention_messages_days,
        "journals": settings.retention_journals_days,
        "sessions": settings.retention_sessions_days,
        "export_links": settings.retention_sessions_days,
    }


class RetentionJob:
    """Runs retention every `every_hours`, once across the processes sharing a database."""

    def __init__(self, db: PrivacyStore, days: Mapping[str, float], every_hours: float) -> None:
        self.db = db
        self.days = dict(days)
        self.every = every_hours * 3600
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the timer (nothing when `every_hours` is 0)."""
        if self.every > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="baton-retention")

    async def stop(self) -> None:
        """Stop the timer."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        # Checked at least hourly; the claim decides which process runs it, once per period.
        pause = min(self.every, 3600.0)
        while True:
            try:
                done = await self.db.retention_run(self.days, every=self.every)
                if done is not None:
                    log.info("retention: deleted %s", {k: v for k, v in done[1].items() if v})
            except Exception:
                log.exception("the retention job failed; it runs again later")
            await asyncio.sleep(pause)
