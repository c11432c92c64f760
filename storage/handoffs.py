"""Handoff transitions: a turn's guarded commit (opening or closing a handoff with it), and
agents claiming, assigning, releasing, ending, replying and noting. Part of the storage
layer (`ConsoleStore` gathers it).

Who holds a conversation changes only through a conditional UPDATE of the conversation row,
taken first in every transaction that changes it (so PostgreSQL's row lock orders them, and
SQLite's `BEGIN IMMEDIATE` does the same). Two agents claiming at once: one UPDATE matches,
the other finds the status changed and loses. A customer's turn that was routed while the
conversation had one status commits only if it still has that status (`commit_guarded`);
otherwise the engine runs the turn again on the new status. Who may act is `storage.access`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, update

from storage import access as rules
from storage import outbound
from storage._batch import Batcher
from storage._runner import Runner
from storage.access import require, require_open
from storage.errors import ConsoleConflict
from storage.followup_writes import publish
from storage.hot_path import write_turns
from storage.records import OutboxRow, ReplyWrite, TurnWrite
from storage.store import Store
from storage.tables import metadata
from storage.vocabulary import (
    OPEN,
    Author,
    ConversationStatus,
    Direction,
    HandoffOutcome,
    HandoffStatus,
)

__all__ = ["GuardedTurn", "HandoffOpening", "Handoffs"]

_conversations: Table = metadata.tables["conversations"]
_messages: Table = metadata.tables["messages"]
_agents: Table = metadata.tables["agents"]
_handoffs: Table = metadata.tables["handoffs"]
_events: Table = metadata.tables["handoff_events"]
_notes: Table = metadata.tables["agent_notes"]


@dataclass(slots=True)
class HandoffOpening:
    """A handoff a turn opens: the conversation starts waiting in the same transaction."""

    reason: str | None
    trigger: str
    summary: dict[str, Any]
    since: float
    """When it started waiting (the clock the deadline was computed on)."""
    deadline_at: float
    position: int = 1
    """The place in the queue the notice speaks of, read by the caller just before (a cheap
    read, `HandoffQueue.queue_length`). Two customers entering at once may both be told the
    same place; the queue ticker tells them the right one on its next round."""
    notice: str | None = None
    """What to tell the customer (their place and expected wait), or None to say nothing."""
    wait: float | None = None
    """The expected wait the notice promises, in seconds."""


@dataclass(slots=True)
class GuardedTurn:
    """A turn that commits only while the conversation still has `expect_status`."""

    turn: TurnWrite
    expect_status: str
    opening: HandoffOpening | None = None
    closing: str | None = None
    """End the open handoff with this status ("cancelled", "left")."""
    reply_to: ReplyWrite | None = None
    """Where the customer is reached (the opening notice goes there)."""


class Handoffs:
    """Handoff transitions (a part of `ConsoleStore`)."""

    _store: Store
    _runner: Runner
    _batch: Batcher

    # -- turns: routing that holds under races ---------------------------------------------

    async def commit_guarded(self, item: GuardedTurn) -> tuple[list[OutboxRow], int | None] | None:
        """Commit a turn only while its conversation still has `expect_status`.

        Returns (replies to send, id of a handoff it opened) or None when the status changed
        under the turn (nothing written: run the turn again on the new status).
        """
        result: tuple[list[OutboxRow], int | None] | None = await self._batch.submit(
            self._guarded_many, item
        )
        return result

    def _guarded_many(
        self, conn: Connection, items: Sequence[GuardedTurn]
    ) -> list[tuple[list[OutboxRow], int | None] | None]:
        now = time.time()
        ok: list[int] = []
        turns: list[TurnWrite] = []
        opened: dict[int, int] = {}
        for index, item in enumerate(items):
            t = item.turn
            held = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == t.conversation_id,
                    _conversations.c.status == item.expect_status,
                )
                .values(status=_conversations.c.status)
            )
            if not held.rowcount:
                continue
            if item.closing is not None:
                _close_open(conn, t.conversation_id, item.closing, None, now)
            if item.opening is not None:
                handoff_id, notice = self._open(conn, t, item.opening, now)
                opened[index] = handoff_id
                if notice is not None and item.reply_to is not None:
                    reply = dataclasses.replace(
                        item.reply_to, text=notice, prompt={"text": notice}
                    )
                    t = dataclasses.replace(t, replies=[*t.replies, reply])
            ok.append(index)
            turns.append(t)
        written = write_turns(conn, self._store.owner, turns) if turns else []
        for index, handoff_id in opened.items():
            t, opening = items[index].turn, items[index].opening
            assert opening is not None
            # After the turn's messages, so the console shows the request, then the waiting.
            record_event(
                conn,
                (handoff_id, t.customer_id, t.conversation_id),
                "waiting",
                detail={"reason": opening.reason, "trigger": opening.trigger},
            )
        out: list[tuple[list[OutboxRow], int | None] | None] = [None] * len(items)
        for index, rows in zip(ok, written, strict=True):
            out[index] = (rows, opened.get(index))
        return out

    def _open(
        self, conn: Connection, t: TurnWrite, opening: HandoffOpening, now: float
    ) -> tuple[int, str | None]:
        waiting = conn.execute(
            select(func.count())
            .select_from(_handoffs)
            .where(_handoffs.c.status == HandoffStatus.WAITING)
        ).scalar_one()
        told = opening.notice is not None
        handoff_id = int(
            conn.execute(
                insert(_handoffs).returning(_handoffs.c.id),
                {
                    "customer_id": t.customer_id,
                    "conversation_id": t.conversation_id,
                    "status": HandoffStatus.WAITING,
                    "trigger": opening.trigger,
                    "reason": opening.reason,
                    "summary": opening.summary,
                    "created_at": opening.since,
                    # The true place, for wait estimates; the notice's may be off by a race.
                    "position_at_entry": int(waiting) + 1,
                    "deadline_at": opening.deadline_at,
                    "told_position": opening.position if told else None,
                    "told_wait": opening.wait if told else None,
                    "told_at": now if told else None,
                },
            ).scalar_one()
        )
        return handoff_id, opening.notice

    # -- agents act ------------------------------------------------------------------------

    async def claim(
        self, conversation_id: int, agent_id: int, *, admin: bool, notice: str | None
    ) -> list[OutboxRow]:
        """Take a waiting conversation. Exactly one of several agents claiming at once wins;
        the others get ConsoleConflict("taken")."""

        def write(conn: Connection) -> list[OutboxRow]:
            now = time.time()
            acc = require_open(conn, conversation_id)
            moved = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == conversation_id,
                    _conversations.c.status == ConversationStatus.WAITING,
                )
                .values(status=ConversationStatus.AGENT, status_at=now)
            )
            if not moved.rowcount:
                raise ConsoleConflict("taken", "someone else already took this conversation")
            taken = conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == acc.handoff_id, rules.CLAIM.where(agent_id, admin=admin))
                .values(
                    status=HandoffStatus.AGENT, agent_id=agent_id, claimed_at=now, assigned_to=None
                )
            )
            if not taken.rowcount:
                raise ConsoleConflict("taken", "this conversation is reserved for another agent")
            record_event(
                conn, (acc.handoff_id, acc.customer_id, conversation_id), "claimed", agent=agent_id
            )
            if notice is None:
                return []
            return outbound.say(
                conn,
                self._store.owner,
                (acc.customer_id, conversation_id),
                [{"text": notice}],
                now,
            )

        return await self._runner.run(write)

    async def assign(
        self, conversation_id: int, actor_id: int, to_agent: int, *, admin: bool
    ) -> None:
        """Reserve a conversation for another agent; it waits for them to claim it."""

        def write(conn: Connection) -> None:
            now = time.time()
            acc = require_open(conn, conversation_id)
            target = conn.execute(
                select(_agents.c.active).where(_agents.c.id == to_agent)
            ).scalar_one_or_none()
            if not target:
                raise ConsoleConflict("unknown_agent", "there is no active agent with that id")
            moved = conn.execute(
                update(_conversations)
                .where(_conversations.c.id == conversation_id, _conversations.c.status.in_(OPEN))
                .values(status=ConversationStatus.WAITING, status_at=now)
            )
            done = conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == acc.handoff_id, rules.ASSIGN.where(actor_id, admin=admin))
                .values(status=HandoffStatus.WAITING, agent_id=None, assigned_to=to_agent)
            )
            if not (moved.rowcount and done.rowcount):
                raise ConsoleConflict("not_holder", "you cannot assign this conversation now")
            record_event(
                conn,
                (acc.handoff_id, acc.customer_id, conversation_id),
                "assigned",
                agent=actor_id,
                detail={"to": to_agent},
            )

        await self._runner.run(write)

    async def release(self, conversation_id: int, actor_id: int, *, admin: bool) -> None:
        """Put a conversation back in the queue, for any agent to claim."""

        def write(conn: Connection) -> None:
            now = time.time()
            acc = require_open(conn, conversation_id)
            moved = conn.execute(
                update(_conversations)
                .where(_conversations.c.id == conversation_id, _conversations.c.status.in_(OPEN))
                .values(status=ConversationStatus.WAITING, status_at=now)
            )
            done = conn.execute(
                update(_handoffs)
                .where(
                    _handoffs.c.id == acc.handoff_id, rules.RELEASE.where(actor_id, admin=admin)
                )
                .values(status=HandoffStatus.WAITING, agent_id=None, assigned_to=None)
            )
            if not (moved.rowcount and done.rowcount):
                raise ConsoleConflict("not_holder", "you do not hold this conversation")
            record_event(
                conn,
                (acc.handoff_id, acc.customer_id, conversation_id),
                "released",
                agent=actor_id,
            )

        await self._runner.run(write)

    async def end(
        self,
        conversation_id: int,
        actor_id: int,
        *,
        admin: bool,
        outcome: str,
        seen: int | None,
        notices: Sequence[Mapping[str, Any]],
    ) -> list[OutboxRow]:
        """Resolve a conversation or hand it back to the bot.

        `outcome` is "resolved" (the conversation becomes "resolved"; the bot answers the
        customer's next message) or "handed_back" (straight back to "bot"). When `seen` (the
        newest message id the agent has read) is given and the customer wrote after it,
        nothing changes: ConsoleConflict("customer_wrote").
        """
        status = HandoffOutcome(outcome).status

        def write(conn: Connection) -> list[OutboxRow]:
            now = time.time()
            acc = require_open(conn, conversation_id)
            allowed = OPEN if admin else (ConversationStatus.AGENT,)
            moved = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == conversation_id, _conversations.c.status.in_(allowed)
                )
                .values(status=status, status_at=now, handoff_reason=None)
            )
            done = conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == acc.handoff_id, rules.HOLD.where(actor_id, admin=admin))
                .values(status=outcome, ended_at=now, ended_by=actor_id)
            )
            if not (moved.rowcount and done.rowcount):
                raise ConsoleConflict("not_holder", "you do not hold this conversation")
            if seen is not None:
                newer = conn.execute(
                    select(_messages.c.id)
                    .where(
                        _messages.c.customer_id == acc.customer_id,
                        _messages.c.direction == Direction.IN,
                        _messages.c.id > seen,
                    )
                    .limit(1)
                ).first()
                if newer is not None:
                    raise ConsoleConflict(
                        "customer_wrote", "the customer just wrote: read it before closing"
                    )
            record_event(
                conn, (acc.handoff_id, acc.customer_id, conversation_id), outcome, agent=actor_id
            )
            return outbound.say(
                conn, self._store.owner, (acc.customer_id, conversation_id), notices, now
            )

        return await self._runner.run(write)

    async def reply(
        self,
        conversation_id: int,
        agent_id: int,
        agent_name: str,
        text: str,
        *,
        media: Sequence[Sequence[Any]] = (),
        files: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[int, list[OutboxRow]]:
        """Send an agent's reply to the customer's current channel through the outbox.

        `media` are the prompt's attachments ([kind, location, mime type, name]) and `files`
        what the console shows of them (the `media_files` rows).

        Only the agent holding the conversation may reply (ConsoleConflict("not_holder")).
        Returns the message id and the outbox rows to send (none if the customer cannot be
        reached on that channel: the message is then recorded as not sent).
        """

        def write(conn: Connection) -> tuple[int, list[OutboxRow]]:
            now = time.time()
            acc = require_open(conn, conversation_id)
            held = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == conversation_id,
                    _conversations.c.status == ConversationStatus.AGENT,
                )
                .values(status=_conversations.c.status)
            )
            row = conn.execute(
                update(_handoffs)
                .where(_handoffs.c.id == acc.handoff_id, rules.REPLY.where(agent_id, admin=False))
                .values(first_reply_at=func.coalesce(_handoffs.c.first_reply_at, now))
                .returning(
                    _handoffs.c.first_reply_at, _handoffs.c.deadline_at, _handoffs.c.breached_at
                )
            ).first()
            if not held.rowcount or row is None:
                raise ConsoleConflict("not_holder", "claim the conversation before replying")
            first, deadline, breached = row
            if first == now and now > deadline and breached is None:
                conn.execute(
                    update(_handoffs)
                    .where(_handoffs.c.id == acc.handoff_id)
                    .values(breached_at=now)
                )
                record_event(
                    conn,
                    (acc.handoff_id, acc.customer_id, conversation_id),
                    "breached",
                    agent=agent_id,
                    detail={"deadline_at": deadline, "late_by": now - deadline},
                    now=now,
                )
            message_id, rows = outbound.say_one(
                conn,
                self._store.owner,
                (acc.customer_id, conversation_id),
                {"text": text, "media": [list(m) for m in media]} if media else {"text": text},
                now,
                author=Author.AGENT,
                extra={"agent_id": agent_id, "agent_name": agent_name}
                | ({"files": [dict(f) for f in files]} if files else {}),
            )
            return message_id, rows

        return await self._runner.run(write)

    async def add_note(self, conversation_id: int, agent_id: int, text: str) -> int:
        """An internal note on the conversation's customer."""

        def write(conn: Connection) -> int:
            acc = require(conn, conversation_id)
            return int(
                conn.execute(
                    insert(_notes).returning(_notes.c.id),
                    {
                        "customer_id": acc.customer_id,
                        "handoff_id": acc.handoff_id,
                        "agent_id": agent_id,
                        "text": text,
                        "created_at": time.time(),
                    },
                ).scalar_one()
            )

        return await self._runner.run(write)


def _close_open(
    conn: Connection, conversation_id: int, status: str, actor: int | None, now: float
) -> None:
    rows = conn.execute(
        update(_handoffs)
        .where(_handoffs.c.conversation_id == conversation_id, _handoffs.c.status.in_(OPEN))
        .values(status=status, ended_at=now, ended_by=actor)
        .returning(_handoffs.c.id, _handoffs.c.customer_id)
    ).all()
    for handoff_id, customer_id in rows:
        record_event(
            conn, (handoff_id, customer_id, conversation_id), status, agent=actor, now=now
        )


def record_event(
    conn: Connection,
    where: tuple[int | None, int, int],
    kind: str,
    *,
    agent: int | None = None,
    detail: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> None:
    """Record what happened to a handoff; `where` is (handoff, customer, conversation)."""
    handoff_id, customer_id, conversation_id = where
    conn.execute(
        insert(_events),
        {
            "handoff_id": handoff_id,
            "customer_id": customer_id,
            "conversation_id": conversation_id,
            "kind": kind,
            "agent_id": agent,
            "detail": dict(detail) if detail is not None else None,
            "created_at": time.time() if now is None else now,
        },
    )
    name = HANDOFF_EVENTS.get(kind)
    if name is not None:  # the durable event for app code, in the same transaction
        data: dict[str, Any] = {
            "conversation_id": conversation_id,
            "handoff_id": handoff_id,
            "agent_id": agent,
        }
        if detail:
            data.update(detail)
        publish(conn, customer_id, name, data, now)


HANDOFF_EVENTS = {
    "waiting": "handoff.started",
    "claimed": "handoff.claimed",
    "assigned": "handoff.assigned",
    "released": "handoff.released",
    "resolved": "conversation.resolved",
    "handed_back": "handoff.handed_back",
    "breached": "handoff.breached",
    "cancelled": "handoff.cancelled",
    "left": "handoff.left",
}
"""The event (see `bot.followup`) each handoff change is published as."""
