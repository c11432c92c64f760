"""Reads of the store used by people and tests, off the message path: a customer's messages,
conversation, outbox rows, an identity's flags and table counts. Part of `Store`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from storage._runner import Runner
from storage._statements import (
    _IDENTITY_FLAGS,
    _conversations,
    _customers,
    _messages,
    _outbox,
)
from storage.records import MessageRow
from storage.tables import metadata
from storage.vocabulary import Direction

__all__ = ["StoreReads"]


class StoreReads:
    """Reads for people, tests and rare paths (a part of `Store`)."""

    _runner: Runner

    async def identity_flags(self, identity_id: int) -> dict[str, bool]:
        """{"opted_out": ..., "unreachable": ...} of one identity."""

        def read(conn: Connection) -> dict[str, bool]:
            row = conn.execute(_IDENTITY_FLAGS, {"b_id": identity_id}).one()
            return {"opted_out": bool(row[0]), "unreachable": bool(row[1])}

        return await self._runner.run(read)

    async def last_inbound_at(self, customer_id: int, identity_id: int) -> float | None:
        """When the customer last wrote from `identity_id` (epoch seconds); None if never.

        Channels with a customer-service window (`adapters.base.Limits.reply_window`) send by
        it. Read from the stored messages, newest first along the customer's index.
        """

        def read(conn: Connection) -> float | None:
            row = conn.execute(
                select(_messages.c.created_at)
                .where(
                    _messages.c.customer_id == customer_id,
                    _messages.c.identity_id == identity_id,
                    _messages.c.direction == Direction.IN.value,
                )
                .order_by(_messages.c.id.desc())
                .limit(1)
            ).first()
            return float(row[0]) if row is not None else None

        return await self._runner.run(read)

    # -- reading for people ----------------------------------------------------------------

    async def messages(
        self, customer_id: int, *, after: int = 0, limit: int = 100
    ) -> list[MessageRow]:
        """A customer's messages after id `after`, oldest first, at most `limit`."""

        def read(conn: Connection) -> list[MessageRow]:
            q = (
                select(
                    _messages.c.id,
                    _messages.c.customer_id,
                    _messages.c.direction,
                    _messages.c.author,
                    _messages.c.channel,
                    _messages.c.text,
                    _messages.c.payload,
                    _messages.c.delivery_status,
                    _messages.c.created_at,
                )
                .where(_messages.c.customer_id == customer_id, _messages.c.id > after)
                .order_by(_messages.c.id)
                .limit(limit)
            )
            return [MessageRow(*r) for r in conn.execute(q)]

        return await self._runner.run(read)

    async def conversation(self, customer_id: int) -> Mapping[str, Any]:
        """The customer's current conversation row."""

        def read(conn: Connection) -> Mapping[str, Any]:
            q = (
                select(_conversations)
                .join(_customers, _customers.c.conversation_id == _conversations.c.id)
                .where(_customers.c.id == customer_id)
            )
            return dict(conn.execute(q).mappings().one())

        return await self._runner.run(read)

    async def outbox(self, customer_id: int) -> list[Mapping[str, Any]]:
        """A customer's outbox rows, oldest first (for tests and the console)."""

        def read(conn: Connection) -> list[Mapping[str, Any]]:
            q = select(_outbox).where(_outbox.c.customer_id == customer_id).order_by(_outbox.c.id)
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    async def count(self, table: str) -> int:
        """Rows in a table (tests, diagnostics)."""
        t = metadata.tables[table]
        return int(
            await self._runner.run(
                lambda c: c.execute(select(func.count()).select_from(t)).scalar_one()
            )
        )
