"""The handoff queue as the queue ticker sees it: who waits, what they were told, recent
claims (for the expected wait), broken reply-by promises and repairs. Part of the storage
layer (`ConsoleStore` gathers it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Table, and_, func, insert, select, update

from storage import outbound
from storage._runner import Runner
from storage.handoffs import record_event
from storage.records import OutboxRow
from storage.store import Store
from storage.tables import metadata
from storage.vocabulary import OPEN, ConversationStatus, HandoffStatus

__all__ = ["HandoffQueue", "WaitingRow"]

_conversations: Table = metadata.tables["conversations"]
_handoffs: Table = metadata.tables["handoffs"]


@dataclass(frozen=True, slots=True)
class WaitingRow:
    """An open handoff as the queue ticker sees it."""

    id: int
    customer_id: int
    conversation_id: int
    status: str
    created_at: float
    deadline_at: float
    first_reply_at: float | None
    told_position: int | None
    told_wait: float | None
    told_at: float | None


class HandoffQueue:
    """The queue ticker's reads and writes (a part of `ConsoleStore`)."""

    _store: Store
    _runner: Runner

    # -- the queue ticker ------------------------------------------------------------------

    async def waiting(self) -> list[WaitingRow]:
        """Open handoffs, oldest first."""

        def read(conn: Connection) -> list[WaitingRow]:
            q = (
                select(
                    _handoffs.c.id,
                    _handoffs.c.customer_id,
                    _handoffs.c.conversation_id,
                    _handoffs.c.status,
                    _handoffs.c.created_at,
                    _handoffs.c.deadline_at,
                    _handoffs.c.first_reply_at,
                    _handoffs.c.told_position,
                    _handoffs.c.told_wait,
                    _handoffs.c.told_at,
                )
                .where(_handoffs.c.status.in_(OPEN))
                .order_by(_handoffs.c.created_at, _handoffs.c.id)
            )
            return [
                WaitingRow(
                    int(r[0]),
                    int(r[1]),
                    int(r[2]),
                    str(r[3]),
                    float(r[4]),
                    float(r[5]),
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                )
                for r in conn.execute(q)
            ]

        return await self._runner.run(read)

    async def queue_length(self) -> int:
        """How many handoffs wait for a person (a new one's place is this plus one)."""
        return int(
            await self._runner.run(
                lambda c: c.execute(
                    select(func.count())
                    .select_from(_handoffs)
                    .where(_handoffs.c.status == HandoffStatus.WAITING)
                ).scalar_one()
            )
        )

    async def recent_claims(self, limit: int = 20) -> list[tuple[float, float, int]]:
        """(waiting since, claimed at, place in queue on entry) of the latest claims, oldest
        first: what the expected wait is estimated from."""

        def read(conn: Connection) -> list[tuple[float, float, int]]:
            q = (
                select(
                    _handoffs.c.created_at, _handoffs.c.claimed_at, _handoffs.c.position_at_entry
                )
                .where(_handoffs.c.claimed_at.is_not(None))
                .order_by(_handoffs.c.claimed_at.desc())
                .limit(limit)
            )
            return [(float(r[0]), float(r[1]), int(r[2])) for r in conn.execute(q)][::-1]

        return await self._runner.run(read)

    async def record_breaches(self, now: float) -> list[int]:
        """Mark open handoffs past their reply-by deadline without a human reply as breached
        (once each); returns their conversation ids."""

        def write(conn: Connection) -> list[int]:
            rows = conn.execute(
                update(_handoffs)
                .where(
                    _handoffs.c.status.in_(OPEN),
                    _handoffs.c.first_reply_at.is_(None),
                    _handoffs.c.breached_at.is_(None),
                    _handoffs.c.deadline_at <= now,
                )
                .values(breached_at=now)
                .returning(
                    _handoffs.c.id,
                    _handoffs.c.customer_id,
                    _handoffs.c.conversation_id,
                    _handoffs.c.deadline_at,
                )
            ).all()
            for handoff_id, customer_id, conversation_id, deadline in rows:
                record_event(
                    conn,
                    (handoff_id, customer_id, conversation_id),
                    "breached",
                    detail={"deadline_at": deadline},
                    now=now,
                )
            return [int(r[2]) for r in rows]

        return await self._runner.run(write)

    async def tell(
        self,
        handoff_id: int,
        *,
        told_at: float | None,
        position: int,
        wait: float,
        text: str,
        now: float,
    ) -> list[OutboxRow] | None:
        """Tell a waiting customer their new place and wait, unless someone else (another
        process) just did: the update is conditional on `told_at` being unchanged."""

        def write(conn: Connection) -> list[OutboxRow] | None:
            cond = [_handoffs.c.id == handoff_id, _handoffs.c.status == HandoffStatus.WAITING]
            cond.append(
                _handoffs.c.told_at.is_(None)
                if told_at is None
                else _handoffs.c.told_at == told_at
            )
            row = conn.execute(
                update(_handoffs)
                .where(*cond)
                .values(told_position=position, told_wait=wait, told_at=now)
                .returning(_handoffs.c.customer_id, _handoffs.c.conversation_id)
            ).first()
            if row is None:
                return None
            # `now` may be a test's clock; the message leaves at once, on the real one.
            return outbound.say(
                conn, self._store.owner, (int(row[0]), int(row[1])), [{"text": text}], time.time()
            )

        return await self._runner.run(write)

    async def repair(self, deadline_at: Callable[[float], float]) -> list[int]:
        """Give conversations that wait (or are with an agent) without an open handoff one,
        e.g. after a turn committed while the console was not attached. Returns their ids."""

        def write(conn: Connection) -> list[int]:
            orphans = conn.execute(
                select(
                    _conversations.c.id,
                    _conversations.c.customer_id,
                    _conversations.c.status,
                    _conversations.c.status_at,
                    _conversations.c.handoff_reason,
                )
                .outerjoin(
                    _handoffs,
                    and_(
                        _handoffs.c.conversation_id == _conversations.c.id,
                        _handoffs.c.status.in_(OPEN),
                    ),
                )
                .where(_conversations.c.status.in_(OPEN), _handoffs.c.id.is_(None))
            ).all()
            repaired: list[int] = []
            for conversation_id, customer_id, _, since, reason in orphans:
                # Take the conversation row first, as every transaction that changes it does,
                # then look again: another process may have repaired (or someone claimed) it
                # since the read above, and a conversation has at most one open handoff.
                status = conn.execute(
                    update(_conversations)
                    .where(
                        _conversations.c.id == conversation_id,
                        _conversations.c.status.in_(OPEN),
                    )
                    .values(status=_conversations.c.status)
                    .returning(_conversations.c.status)
                ).scalar()
                if status is None or _open_handoff(conn, conversation_id):
                    continue
                if status == ConversationStatus.AGENT:  # nobody holds it: back in the queue
                    conn.execute(
                        update(_conversations)
                        .where(_conversations.c.id == conversation_id)
                        .values(status=ConversationStatus.WAITING)
                    )
                handoff_id = conn.execute(
                    insert(_handoffs).returning(_handoffs.c.id),
                    {
                        "customer_id": customer_id,
                        "conversation_id": conversation_id,
                        "status": HandoffStatus.WAITING,
                        "trigger": "customer",
                        "reason": reason,
                        "summary": {},
                        "created_at": since,
                        "position_at_entry": 1,
                        "deadline_at": deadline_at(since),
                    },
                ).scalar_one()
                record_event(conn, (handoff_id, customer_id, conversation_id), "waiting")
                repaired.append(int(conversation_id))
            return repaired

        return await self._runner.run(write)


def _open_handoff(conn: Connection, conversation_id: int) -> bool:
    """Whether the conversation has an open handoff."""
    found = conn.execute(
        select(_handoffs.c.id)
        .where(_handoffs.c.conversation_id == conversation_id, _handoffs.c.status.in_(OPEN))
        .limit(1)
    ).first()
    return found is not None
