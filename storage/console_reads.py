"""Read models for the console: a conversation's access, the open handoffs, a conversation
with its customer, identities and history, live-update heads and changes, delivery marks and
the breaches report. Reads only. Part of the storage layer (`ConsoleStore` gathers it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, select

from storage._runner import Runner
from storage.access import Access, read_accesses
from storage.tables import metadata
from storage.vocabulary import OPEN, Direction

__all__ = ["ConsoleReads"]

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_conversations: Table = metadata.tables["conversations"]
_messages: Table = metadata.tables["messages"]
_handoffs: Table = metadata.tables["handoffs"]
_events: Table = metadata.tables["handoff_events"]
_notes: Table = metadata.tables["agent_notes"]


class ConsoleReads:
    """What the console shows (a part of `ConsoleStore`)."""

    _runner: Runner

    # -- reading for the console -----------------------------------------------------------

    async def access(self, conversation_id: int) -> Access | None:
        """The conversation's status and open handoff (for authorisation), or None."""
        found = await self.accesses([conversation_id])
        return found.get(conversation_id)

    async def accesses(self, conversation_ids: Sequence[int]) -> dict[int, Access]:
        """`access` for many conversations at once."""
        ids = list(set(conversation_ids))
        if not ids:
            return {}

        def read(conn: Connection) -> dict[int, Access]:
            return read_accesses(conn, ids)

        return await self._runner.run(read)

    async def open_handoffs(self) -> list[dict[str, Any]]:
        """Every open handoff, oldest first, with the customer's name sources and channel."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(
                    _handoffs,
                    _customers.c.memory,
                    _identities.c.channel.label("channel"),
                    _identities.c.display_name.label("display_name"),
                )
                .join(_customers, _customers.c.id == _handoffs.c.customer_id)
                .outerjoin(_identities, _identities.c.id == _customers.c.last_identity_id)
                .where(_handoffs.c.status.in_(OPEN))
                .order_by(_handoffs.c.created_at, _handoffs.c.id)
            )
            rows: list[dict[str, Any]] = [dict(r) for r in conn.execute(q).mappings()]
            customers = [r["customer_id"] for r in rows]
            last = _last_inbound(conn, customers)
            names: dict[int, list[str]] = {}
            if customers:
                for customer_id, name in conn.execute(
                    select(_identities.c.customer_id, _identities.c.display_name)
                    .where(
                        _identities.c.customer_id.in_(set(customers)),
                        _identities.c.display_name.is_not(None),
                    )
                    .order_by(_identities.c.id)
                ):
                    names.setdefault(int(customer_id), []).append(str(name))
            for r in rows:
                r["last_message"] = last.get(r["customer_id"])
                r["display_names"] = names.get(r["customer_id"], [])
            return rows

        return await self._runner.run(read)

    async def conversation(self, conversation_id: int) -> Mapping[str, Any] | None:
        """Everything the console shows beside the history: customer, identities, handoffs,
        notes and events."""

        def read(conn: Connection) -> Mapping[str, Any] | None:
            conv = conn.execute(
                select(_conversations).where(_conversations.c.id == conversation_id)
            ).first()
            if conv is None:
                return None
            conversation = dict(conv._mapping)
            customer_id = conversation["customer_id"]
            customer = dict(
                conn.execute(select(_customers).where(_customers.c.id == customer_id))
                .mappings()
                .one()
            )
            identities = [
                dict(r)
                for r in conn.execute(
                    select(_identities)
                    .where(_identities.c.customer_id == customer_id)
                    .order_by(_identities.c.id)
                ).mappings()
            ]
            handoffs = _latest(conn, _handoffs, customer_id, 50)
            notes = _latest(conn, _notes, customer_id, 200)
            events = _latest(conn, _events, customer_id, 200)
            return {
                "conversation": conversation,
                "customer": customer,
                "identities": identities,
                "handoffs": handoffs,
                "notes": notes[::-1],
                "events": events[::-1],
            }

        return await self._runner.run(read)

    async def identities(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's channel identities, oldest first."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(
                    _identities.c.id,
                    _identities.c.channel,
                    _identities.c.external_id,
                    _identities.c.display_name,
                    _identities.c.opted_out,
                    _identities.c.unreachable,
                )
                .where(_identities.c.customer_id == customer_id)
                .order_by(_identities.c.id)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    async def history(
        self, customer_id: int, *, before: int | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The customer's messages on every channel, oldest first: the last `limit` of them
        (before message id `before`)."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(
                    _messages.c.id,
                    _messages.c.direction,
                    _messages.c.author,
                    _messages.c.channel,
                    _messages.c.identity_id,
                    _messages.c.text,
                    _messages.c.payload,
                    _messages.c.delivery_status,
                    _messages.c.error,
                    _messages.c.created_at,
                )
                .where(_messages.c.customer_id == customer_id)
                .order_by(_messages.c.id.desc())
                .limit(limit)
            )
            if before is not None:
                q = q.where(_messages.c.id < before)
            return [dict(r) for r in conn.execute(q).mappings()][::-1]

        return await self._runner.run(read)

    # -- live updates ----------------------------------------------------------------------

    async def heads(self) -> tuple[int, int]:
        """(newest handoff event id, newest message id)."""

        def read(conn: Connection) -> tuple[int, int]:
            e = conn.execute(select(func.max(_events.c.id))).scalar_one()
            m = conn.execute(select(func.max(_messages.c.id))).scalar_one()
            return int(e or 0), int(m or 0)

        return await self._runner.run(read)

    async def changes(
        self, events_after: int, messages_after: int, *, limit: int = 2000
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(event id, conversation id) and (message id, conversation id) after the given ids."""

        def read(conn: Connection) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
            events = conn.execute(
                select(_events.c.id, _events.c.conversation_id)
                .where(_events.c.id > events_after)
                .order_by(_events.c.id)
                .limit(limit)
            ).all()
            messages = conn.execute(
                select(_messages.c.id, _messages.c.conversation_id)
                .where(_messages.c.id > messages_after, _messages.c.conversation_id.is_not(None))
                .order_by(_messages.c.id)
                .limit(limit)
            ).all()
            return (
                [(int(r[0]), int(r[1])) for r in events],
                [(int(r[0]), int(r[1])) for r in messages],
            )

        return await self._runner.run(read)

    async def delivery_marks(self, conversation_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """A fingerprint of the delivery statuses of each conversation's latest replies."""
        ids = list(set(conversation_ids))
        if not ids:
            return {}

        def read(conn: Connection) -> dict[int, tuple[Any, ...]]:
            out: dict[int, tuple[Any, ...]] = {}
            for conversation_id in ids:
                customer = conn.execute(
                    select(_conversations.c.customer_id).where(
                        _conversations.c.id == conversation_id
                    )
                ).scalar_one_or_none()
                if customer is None:
                    continue
                rows = conn.execute(
                    select(_messages.c.id, _messages.c.delivery_status)
                    .where(
                        _messages.c.customer_id == customer, _messages.c.direction == Direction.OUT
                    )
                    .order_by(_messages.c.id.desc())
                    .limit(20)
                ).all()
                out[conversation_id] = tuple((r[0], r[1]) for r in rows)
            return out

        return await self._runner.run(read)

    # -- reports ---------------------------------------------------------------------------

    async def breaches(self, since: float) -> list[Mapping[str, Any]]:
        """Handoffs whose reply-by promise was broken since `since`, newest first."""

        def read(conn: Connection) -> list[Mapping[str, Any]]:
            q = (
                select(
                    _handoffs.c.id,
                    _handoffs.c.conversation_id,
                    _handoffs.c.customer_id,
                    _handoffs.c.created_at,
                    _handoffs.c.deadline_at,
                    _handoffs.c.breached_at,
                    _handoffs.c.first_reply_at,
                    _handoffs.c.agent_id,
                    _handoffs.c.status,
                )
                .where(_handoffs.c.breached_at.is_not(None), _handoffs.c.breached_at >= since)
                .order_by(_handoffs.c.breached_at.desc())
                .limit(1000)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)


# -- helpers (run inside a transaction) -------------------------------------------------------


def _last_inbound(conn: Connection, customer_ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    ids = list(set(customer_ids))
    if not ids:
        return {}
    newest = (
        select(func.max(_messages.c.id))
        .where(_messages.c.customer_id.in_(ids), _messages.c.direction == Direction.IN)
        .group_by(_messages.c.customer_id)
    )
    rows = conn.execute(
        select(
            _messages.c.id,
            _messages.c.customer_id,
            _messages.c.text,
            _messages.c.channel,
            _messages.c.created_at,
        ).where(_messages.c.id.in_(newest))
    ).mappings()
    return {int(r["customer_id"]): dict(r) for r in rows}


def _latest(conn: Connection, table: Table, customer_id: int, limit: int) -> list[dict[str, Any]]:
    """A customer's newest `limit` rows of `table`, newest first."""
    q = (
        select(table)
        .where(table.c.customer_id == customer_id)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]
