"""The LLM-written summaries of handoffs: which open handoffs still need one, and storing one
under the "llm" key of the handoff's summary JSON (next to the extractive summary, which is
never changed). Part of the storage layer; used by `bot.llm_summary`.

No table of its own: a handoff "has one" exactly when its summary JSON has the key, so the
work left after a restart is read from the handoffs themselves.
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


class LLMSummaries:
    """Reads and writes of the handoffs' LLM summaries, next to a `Store`."""

    def __init__(self, store: Store) -> None:
        self._runner = store._runner

    async def pending(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open handoffs whose summary has no LLM summary yet, oldest first: id,
        customer_id, created_at and the (extractive) summary."""

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
                if LLM_KEY not in (row["summary"] or {}):
                    found.append(dict(row))
                if len(found) >= limit:
                    break
            return found

        return await self._runner.run(read)

    async def store(self, handoff_id: int, record: dict[str, Any]) -> bool:
        """Keep `record` as the handoff's LLM summary, unless it has one already (then
        nothing changes); returns whether it was stored."""

        def write(conn: Connection) -> bool:
            summary = conn.execute(
                select(_handoffs.c.summary).where(_handoffs.c.id == handoff_id)
            ).scalar_one_or_none()
            if summary is None or LLM_KEY in summary:
                return False
            conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == handoff_id)
                .values(summary={**summary, LLM_KEY: record})
            )
            return True

        return await self._runner.run(write)
