"""The LLM-written summaries of handoffs: which open handoffs still need one, and storing one
under the "llm" key of the handoff's summary JSON (next to the extractive summary, which is
never changed). Part of the storage layer; used by `bot.llm_summary`.

No table of its own: a handoff "has one" exactly when its summary JSON has the key with a
result (text or error), so the work left after a restart is read from the handoffs
themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select, update

from storage.store import Store
from storage.tables import metadata
from storage.vocabulary import OPEN

__all__ = ["LLM_KEY", "LLMSummaries"]

LLM_KEY = "llm"
"""The key of the LLM summary in a handoff's summary JSON."""

_handoffs: Table = metadata.tables["handoffs"]


def _needs(summary: dict[str, Any] | None, stale_before: float) -> bool:
    """Whether a handoff with this summary needs an LLM summary: it has none, or a claim on
    it (`{"pending": true, "at": ...}`) is older than `stale_before` (its process stopped)."""
    found = (summary or {}).get(LLM_KEY)
    if found is None:
        return True
    return bool(found.get("pending")) and float(found.get("at") or 0) < stale_before


class LLMSummaries:
    """Reads and writes of the handoffs' LLM summaries, next to a `Store`.

    One process makes each: `claim` marks the handoff (`{"pending": true, "at": now}`) in a
    transaction that locks its row, so two processes never both call the model for it; a
    claim older than the caller's `stale_before` (its process stopped mid-call) may be taken
    again.
    """

    def __init__(self, store: Store) -> None:
        self._runner = store._runner

    async def pending(self, stale_before: float, limit: int = 50) -> list[dict[str, Any]]:
        """Open handoffs that need an LLM summary, oldest first: id, customer_id,
        created_at and the (extractive) summary."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(
                    _handoffs.c.id,
                    _handoffs.c.customer_id,
                    _handoffs.c.created_at,
                    _handoffs.c.summary,
                )
                .where(_handoffs.c.status.in_(OPEN))
                .order_by(_handoffs.c.created_at, _handoffs.c.id)
            )
            found = []
            for row in conn.execute(q).mappings():
                if _needs(row["summary"], stale_before):
                    found.append(dict(row))
                if len(found) >= limit:
                    break
            return found

        return await self._runner.run(read)

    async def claim(self, handoff_id: int, now: float, stale_before: float) -> bool:
        """Mark the handoff's LLM summary as being made by the caller; False when it has
        one, or another process's fresh claim."""

        def write(conn: Connection) -> bool:
            summary = conn.execute(
                select(_handoffs.c.summary)
                .where(_handoffs.c.id == handoff_id, _handoffs.c.status.in_(OPEN))
                .with_for_update()
            ).scalar_one_or_none()
            if summary is None or not _needs(summary, stale_before):
                return False
            conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == handoff_id)
                .values(summary={**summary, LLM_KEY: {"pending": True, "at": now}})
            )
            return True

        return await self._runner.run(write)

    async def store(self, handoff_id: int, record: dict[str, Any]) -> bool:
        """Keep `record` as the handoff's LLM summary, unless it has a finished one already
        (then nothing changes); returns whether it was stored."""

        def write(conn: Connection) -> bool:
            summary = conn.execute(
                select(_handoffs.c.summary).where(_handoffs.c.id == handoff_id).with_for_update()
            ).scalar_one_or_none()
            if summary is None:
                return False
            found = summary.get(LLM_KEY)
            if found is not None and not found.get("pending"):
                return False
            conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == handoff_id)
                .values(summary={**summary, LLM_KEY: record})
            )
            return True

        return await self._runner.run(write)
