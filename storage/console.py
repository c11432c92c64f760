"""SQL for live handoff and the agent console: agents, sessions, API tokens, handoffs, notes
and canned replies. Part of the storage layer, like `storage.store`.

Who holds a conversation changes only through a conditional UPDATE of the conversation row,
taken first in every transaction that changes it (so PostgreSQL's row lock orders them, and
SQLite's `BEGIN IMMEDIATE` does the same). Two agents claiming at once: one UPDATE matches,
the other finds the status changed and loses. A customer's turn that was routed while the
conversation had one status commits only if it still has that status (`commit_guarded`);
otherwise the engine runs the turn again on the new status.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select, update

from storage.errors import StoreError
from storage.records import OutboxRow, ReplyWrite, TurnWrite
from storage.store import _OUTBOX_CLAIM, Store
from storage.tables import metadata

__all__ = [
    "OPEN",
    "Access",
    "AgentRow",
    "ConsoleConflict",
    "ConsoleStore",
    "GuardedTurn",
    "HandoffOpening",
    "SessionRow",
    "TokenRow",
    "WaitingRow",
]

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_conversations: Table = metadata.tables["conversations"]
_messages: Table = metadata.tables["messages"]
_outbox: Table = metadata.tables["outbox"]
_agents: Table = metadata.tables["agents"]
_sessions: Table = metadata.tables["agent_sessions"]
_tokens: Table = metadata.tables["api_tokens"]
_handoffs: Table = metadata.tables["handoffs"]
_events: Table = metadata.tables["handoff_events"]
_notes: Table = metadata.tables["agent_notes"]
_canned: Table = metadata.tables["canned_replies"]

OPEN = ("waiting", "agent")
"""Handoff (and conversation) statuses while people are involved."""


class ConsoleConflict(StoreError):
    """An agent's action lost a race or is not theirs to take; nothing was written.

    `code` is one of "not_found", "taken", "not_holder", "customer_wrote", "exists",
    "unknown_agent".
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent account."""

    id: int
    email: str
    name: str
    role: str
    active: bool
    password_hash: str
    failed_logins: int
    locked_until: float | None
    created_at: float
    last_login_at: float | None

    @property
    def admin(self) -> bool:
        """Admins manage agents and see every conversation."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A live login session and its agent."""

    id: str
    agent: AgentRow
    csrf_token: str
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    """An API token (never the token itself, only its hash is stored)."""

    id: int
    agent_id: int
    created_by: int
    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class Access:
    """What authorisation needs to know about a conversation: status and its open handoff."""

    conversation_id: int
    customer_id: int
    status: str
    handoff_id: int | None
    handoff_status: str | None
    agent_id: int | None
    assigned_to: int | None


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


@dataclass(slots=True)
class HandoffOpening:
    """A handoff a turn opens: the conversation starts waiting in the same transaction."""

    reason: str | None
    trigger: str
    summary: dict[str, Any]
    since: float
    """When it started waiting (the clock the deadline was computed on)."""
    deadline_at: float
    notice: Callable[[int], tuple[str, float] | None]
    """Given the place in the queue: (what to tell the customer, expected wait), or None."""


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


_CONFLICT = object()


class ConsoleStore:
    """The console's and the handoff's access to the database, next to a `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._runner = store._runner
        self._batch = store._batch

    # -- agents ----------------------------------------------------------------------------

    async def add_agent(self, email: str, name: str, role: str, password_hash: str) -> AgentRow:
        """Create an agent; raises ConsoleConflict("exists") for a known email."""
        now = time.time()

        def write(conn: Connection) -> AgentRow:
            found = conn.execute(select(_agents.c.id).where(_agents.c.email == email)).first()
            if found is not None:
                raise ConsoleConflict("exists", f"an agent with email {email} already exists")
            agent_id = conn.execute(
                insert(_agents).returning(_agents.c.id),
                {
                    "email": email,
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "active": True,
                    "failed_logins": 0,
                    "created_at": now,
                },
            ).scalar_one()
            return _agent(conn.execute(select(_agents).where(_agents.c.id == agent_id)).one())

        return await self._runner.run(write)

    async def agent(self, agent_id: int) -> AgentRow | None:
        """One agent by id."""
        return await self._runner.run(
            lambda c: _maybe_agent(c.execute(select(_agents).where(_agents.c.id == agent_id)))
        )

    async def agent_by_email(self, email: str) -> AgentRow | None:
        """One agent by (lower-cased) email."""
        return await self._runner.run(
            lambda c: _maybe_agent(c.execute(select(_agents).where(_agents.c.email == email)))
        )

    async def agents(self) -> list[AgentRow]:
        """Every agent, by name."""
        return await self._runner.run(
            lambda c: [_agent(r) for r in c.execute(select(_agents).order_by(_agents.c.name))]
        )

    async def update_agent(
        self,
        agent_id: int,
        *,
        name: str | None = None,
        role: str | None = None,
        active: bool | None = None,
        password_hash: str | None = None,
    ) -> AgentRow | None:
        """Change an agent; deactivating or a new password ends their sessions and tokens."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if role is not None:
            values["role"] = role
        if active is not None:
            values["active"] = active
        if password_hash is not None:
            values["password_hash"] = password_hash
            values["failed_logins"] = 0
            values["locked_until"] = None

        def write(conn: Connection) -> AgentRow | None:
            if values:
                conn.execute(update(_agents).where(_agents.c.id == agent_id).values(**values))
            if active is False or password_hash is not None:
                conn.execute(delete(_sessions).where(_sessions.c.agent_id == agent_id))
            if active is False:
                conn.execute(
                    update(_tokens)
                    .where(_tokens.c.agent_id == agent_id, _tokens.c.revoked_at.is_(None))
                    .values(revoked_at=time.time())
                )
            return _maybe_agent(conn.execute(select(_agents).where(_agents.c.id == agent_id)))

        return await self._runner.run(write)

    async def login_failed(self, agent_id: int, *, lock_after: int, lock_seconds: float) -> None:
        """Count a failed password; lock the account for a while after `lock_after` in a row."""

        def write(conn: Connection) -> None:
            failed = conn.execute(
                update(_agents)
                .where(_agents.c.id == agent_id)
                .values(failed_logins=_agents.c.failed_logins + 1)
                .returning(_agents.c.failed_logins)
            ).scalar_one()
            if failed >= lock_after:
                # Doubling lock-outs: at most a few dozen guesses an hour on one account.
                seconds = min(lock_seconds * 2 ** (failed - lock_after), 3600.0)
                conn.execute(
                    update(_agents)
                    .where(_agents.c.id == agent_id)
                    .values(locked_until=time.time() + seconds)
                )

        await self._runner.run(write)

    async def login_succeeded(self, agent_id: int, *, password_hash: str | None = None) -> None:
        """Reset the failure count (and store a re-hashed password when parameters changed)."""
        values: dict[str, Any] = {
            "failed_logins": 0,
            "locked_until": None,
            "last_login_at": time.time(),
        }
        if password_hash is not None:
            values["password_hash"] = password_hash
        await self._runner.run(
            lambda c: c.execute(update(_agents).where(_agents.c.id == agent_id).values(**values))
        )

    # -- sessions --------------------------------------------------------------------------

    async def create_session(
        self,
        session_id: str,
        agent_id: int,
        csrf_token: str,
        *,
        expires_at: float,
        user_agent: str | None,
        replaces: str | None = None,
    ) -> None:
        """Store a new session (and delete the one it replaces: rotation on login)."""
        now = time.time()

        def write(conn: Connection) -> None:
            if replaces:
                conn.execute(delete(_sessions).where(_sessions.c.id == replaces))
            conn.execute(
                delete(_sessions).where(
                    _sessions.c.agent_id == agent_id, _sessions.c.expires_at < now
                )
            )
            conn.execute(
                insert(_sessions),
                {
                    "id": session_id,
                    "agent_id": agent_id,
                    "csrf_token": csrf_token,
                    "created_at": now,
                    "last_seen_at": now,
                    "expires_at": expires_at,
                    "user_agent": (user_agent or "")[:300] or None,
                },
            )

        await self._runner.run(write)

    async def session(self, session_id: str) -> SessionRow | None:
        """A session and its agent, or None."""

        def read(conn: Connection) -> SessionRow | None:
            row = conn.execute(
                select(_sessions, _agents)
                .join(_agents, _agents.c.id == _sessions.c.agent_id)
                .where(_sessions.c.id == session_id)
            ).first()
            if row is None:
                return None
            m = row._mapping
            return SessionRow(
                m[_sessions.c.id],
                _agent_from(m),
                m[_sessions.c.csrf_token],
                m[_sessions.c.created_at],
                m[_sessions.c.last_seen_at],
                m[_sessions.c.expires_at],
                m[_sessions.c.user_agent],
            )

        return await self._runner.run(read)

    async def sessions_of(self, agent_id: int) -> list[Mapping[str, Any]]:
        """An agent's sessions (for "where am I logged in")."""

        def read(conn: Connection) -> list[Mapping[str, Any]]:
            q = (
                select(
                    _sessions.c.id,
                    _sessions.c.created_at,
                    _sessions.c.last_seen_at,
                    _sessions.c.expires_at,
                    _sessions.c.user_agent,
                )
                .where(_sessions.c.agent_id == agent_id)
                .order_by(_sessions.c.created_at.desc())
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        return await self._runner.run(read)

    async def touch_session(self, session_id: str, now: float) -> None:
        """Record activity (idle timeout)."""
        await self._runner.run(
            lambda c: c.execute(
                update(_sessions).where(_sessions.c.id == session_id).values(last_seen_at=now)
            )
        )

    async def delete_session(self, session_id: str, *, agent_id: int | None = None) -> bool:
        """End a session server-side; with `agent_id`, only one of that agent's."""

        def write(conn: Connection) -> bool:
            q = delete(_sessions).where(_sessions.c.id == session_id)
            if agent_id is not None:
                q = q.where(_sessions.c.agent_id == agent_id)
            return bool(conn.execute(q).rowcount)

        return await self._runner.run(write)

    # -- API tokens ------------------------------------------------------------------------

    async def create_token(
        self, token_hash: str, agent_id: int, created_by: int, name: str
    ) -> TokenRow:
        """Store a new API token's hash."""
        now = time.time()

        def write(conn: Connection) -> TokenRow:
            token_id = conn.execute(
                insert(_tokens).returning(_tokens.c.id),
                {
                    "token_hash": token_hash,
                    "agent_id": agent_id,
                    "created_by": created_by,
                    "name": name,
                    "created_at": now,
                },
            ).scalar_one()
            return _token(conn.execute(select(_tokens).where(_tokens.c.id == token_id)).one())

        return await self._runner.run(write)

    async def token_agent(self, token_hash: str, now: float) -> AgentRow | None:
        """The active agent an unrevoked token acts as (and record its use), or None."""

        def write(conn: Connection) -> AgentRow | None:
            row = conn.execute(
                select(_tokens.c.id, _agents)
                .join(_agents, _agents.c.id == _tokens.c.agent_id)
                .where(_tokens.c.token_hash == token_hash, _tokens.c.revoked_at.is_(None))
            ).first()
            if row is None:
                return None
            conn.execute(update(_tokens).where(_tokens.c.id == row[0]).values(last_used_at=now))
            return _agent_from(row._mapping)

        return await self._runner.run(write)

    async def tokens(self) -> list[TokenRow]:
        """Every API token, newest first."""
        return await self._runner.run(
            lambda c: [_token(r) for r in c.execute(select(_tokens).order_by(_tokens.c.id.desc()))]
        )

    async def revoke_token(self, token_id: int) -> bool:
        """Revoke a token; False if there is no such unrevoked token."""
        return await self._runner.run(
            lambda c: bool(
                c.execute(
                    update(_tokens)
                    .where(_tokens.c.id == token_id, _tokens.c.revoked_at.is_(None))
                    .values(revoked_at=time.time())
                ).rowcount
            )
        )

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
        written = self._store._turn_many(conn, turns) if turns else []
        for index, handoff_id in opened.items():
            t, opening = items[index].turn, items[index].opening
            assert opening is not None
            # After the turn's messages, so the console shows the request, then the waiting.
            _event(
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
            select(func.count()).select_from(_handoffs).where(_handoffs.c.status == "waiting")
        ).scalar_one()
        position = int(waiting) + 1
        told = opening.notice(position)
        handoff_id = int(
            conn.execute(
                insert(_handoffs).returning(_handoffs.c.id),
                {
                    "customer_id": t.customer_id,
                    "conversation_id": t.conversation_id,
                    "status": "waiting",
                    "trigger": opening.trigger,
                    "reason": opening.reason,
                    "summary": opening.summary,
                    "created_at": opening.since,
                    "position_at_entry": position,
                    "deadline_at": opening.deadline_at,
                    "told_position": position if told else None,
                    "told_wait": told[1] if told else None,
                    "told_at": now if told else None,
                },
            ).scalar_one()
        )
        return handoff_id, told[0] if told else None

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
            q = (
                select(
                    _conversations.c.id,
                    _conversations.c.customer_id,
                    _conversations.c.status,
                    _handoffs.c.id,
                    _handoffs.c.status,
                    _handoffs.c.agent_id,
                    _handoffs.c.assigned_to,
                )
                .select_from(_conversations)
                .outerjoin(
                    _handoffs,
                    and_(
                        _handoffs.c.conversation_id == _conversations.c.id,
                        _handoffs.c.status.in_(OPEN),
                    ),
                )
                .where(_conversations.c.id.in_(ids))
                .order_by(_handoffs.c.id)
            )
            out: dict[int, Access] = {}
            for r in conn.execute(q):
                out[int(r[0])] = Access(int(r[0]), int(r[1]), str(r[2]), r[3], r[4], r[5], r[6])
            return out

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

    # -- agents act ------------------------------------------------------------------------

    async def claim(
        self, conversation_id: int, agent_id: int, *, admin: bool, notice: str | None
    ) -> list[OutboxRow]:
        """Take a waiting conversation. Exactly one of several agents claiming at once wins;
        the others get ConsoleConflict("taken")."""

        def write(conn: Connection) -> list[OutboxRow]:
            now = time.time()
            acc = _require_open(conn, conversation_id)
            moved = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == conversation_id, _conversations.c.status == "waiting"
                )
                .values(status="agent", status_at=now)
            )
            if not moved.rowcount:
                raise ConsoleConflict("taken", "someone else already took this conversation")
            cond = [_handoffs.c.id == acc.handoff_id, _handoffs.c.status == "waiting"]
            if not admin:
                cond.append(
                    or_(_handoffs.c.assigned_to.is_(None), _handoffs.c.assigned_to == agent_id)
                )
            taken = conn.execute(
                update(_handoffs)
                .where(*cond)
                .values(status="agent", agent_id=agent_id, claimed_at=now, assigned_to=None)
            )
            if not taken.rowcount:
                raise ConsoleConflict("taken", "this conversation is reserved for another agent")
            _event(
                conn, (acc.handoff_id, acc.customer_id, conversation_id), "claimed", agent=agent_id
            )
            if notice is None:
                return []
            return self._say(conn, acc.customer_id, conversation_id, [{"text": notice}], now)

        return await self._runner.run(write)

    async def assign(
        self, conversation_id: int, actor_id: int, to_agent: int, *, admin: bool
    ) -> None:
        """Reserve a conversation for another agent; it waits for them to claim it."""

        def write(conn: Connection) -> None:
            now = time.time()
            acc = _require_open(conn, conversation_id)
            target = conn.execute(
                select(_agents.c.active).where(_agents.c.id == to_agent)
            ).scalar_one_or_none()
            if not target:
                raise ConsoleConflict("unknown_agent", "there is no active agent with that id")
            moved = conn.execute(
                update(_conversations)
                .where(_conversations.c.id == conversation_id, _conversations.c.status.in_(OPEN))
                .values(status="waiting", status_at=now)
            )
            cond = [_handoffs.c.id == acc.handoff_id]
            if not admin:
                cond.append(
                    or_(
                        and_(_handoffs.c.status == "agent", _handoffs.c.agent_id == actor_id),
                        and_(
                            _handoffs.c.status == "waiting",
                            or_(
                                _handoffs.c.assigned_to.is_(None),
                                _handoffs.c.assigned_to == actor_id,
                            ),
                        ),
                    )
                )
            else:
                cond.append(_handoffs.c.status.in_(OPEN))
            done = conn.execute(
                update(_handoffs)
                .where(*cond)
                .values(status="waiting", agent_id=None, assigned_to=to_agent)
            )
            if not (moved.rowcount and done.rowcount):
                raise ConsoleConflict("not_holder", "you cannot assign this conversation now")
            _event(
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
            acc = _require_open(conn, conversation_id)
            moved = conn.execute(
                update(_conversations)
                .where(_conversations.c.id == conversation_id, _conversations.c.status.in_(OPEN))
                .values(status="waiting", status_at=now)
            )
            cond = [_handoffs.c.id == acc.handoff_id, _handoffs.c.status.in_(OPEN)]
            if not admin:
                cond.append(
                    or_(
                        and_(_handoffs.c.status == "agent", _handoffs.c.agent_id == actor_id),
                        and_(_handoffs.c.status == "waiting", _handoffs.c.assigned_to == actor_id),
                    )
                )
            done = conn.execute(
                update(_handoffs)
                .where(*cond)
                .values(status="waiting", agent_id=None, assigned_to=None)
            )
            if not (moved.rowcount and done.rowcount):
                raise ConsoleConflict("not_holder", "you do not hold this conversation")
            _event(
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
        status = {"resolved": "resolved", "handed_back": "bot"}[outcome]

        def write(conn: Connection) -> list[OutboxRow]:
            now = time.time()
            acc = _require_open(conn, conversation_id)
            allowed = OPEN if admin else ("agent",)
            moved = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == conversation_id, _conversations.c.status.in_(allowed)
                )
                .values(status=status, status_at=now, handoff_reason=None)
            )
            cond = [_handoffs.c.id == acc.handoff_id, _handoffs.c.status.in_(allowed)]
            if not admin:
                cond.append(_handoffs.c.agent_id == actor_id)
            done = conn.execute(
                update(_handoffs)
                .where(*cond)
                .values(status=outcome, ended_at=now, ended_by=actor_id)
            )
            if not (moved.rowcount and done.rowcount):
                raise ConsoleConflict("not_holder", "you do not hold this conversation")
            if seen is not None:
                newer = conn.execute(
                    select(_messages.c.id)
                    .where(
                        _messages.c.customer_id == acc.customer_id,
                        _messages.c.direction == "in",
                        _messages.c.id > seen,
                    )
                    .limit(1)
                ).first()
                if newer is not None:
                    raise ConsoleConflict(
                        "customer_wrote", "the customer just wrote: read it before closing"
                    )
            _event(
                conn, (acc.handoff_id, acc.customer_id, conversation_id), outcome, agent=actor_id
            )
            return self._say(conn, acc.customer_id, conversation_id, notices, now)

        return await self._runner.run(write)

    async def reply(
        self, conversation_id: int, agent_id: int, agent_name: str, text: str
    ) -> tuple[int, list[OutboxRow]]:
        """Send an agent's reply to the customer's current channel through the outbox.

        Only the agent holding the conversation may reply (ConsoleConflict("not_holder")).
        Returns the message id and the outbox rows to send (none if the customer cannot be
        reached on that channel: the message is then recorded as not sent).
        """

        def write(conn: Connection) -> tuple[int, list[OutboxRow]]:
            now = time.time()
            acc = _require_open(conn, conversation_id)
            held = conn.execute(
                update(_conversations)
                .where(_conversations.c.id == conversation_id, _conversations.c.status == "agent")
                .values(status=_conversations.c.status)
            )
            row = conn.execute(
                update(_handoffs)
                .where(
                    _handoffs.c.id == acc.handoff_id,
                    _handoffs.c.status == "agent",
                    _handoffs.c.agent_id == agent_id,
                )
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
                _event(
                    conn,
                    (acc.handoff_id, acc.customer_id, conversation_id),
                    "breached",
                    agent=agent_id,
                    detail={"deadline_at": deadline, "late_by": now - deadline},
                    now=now,
                )
            message_id, rows = self._say_one(
                conn,
                acc.customer_id,
                conversation_id,
                {"text": text},
                now,
                author="agent",
                extra={"agent_id": agent_id, "agent_name": agent_name},
            )
            return message_id, rows

        return await self._runner.run(write)

    async def add_note(self, conversation_id: int, agent_id: int, text: str) -> int:
        """An internal note on the conversation's customer."""

        def write(conn: Connection) -> int:
            acc = _require(conn, conversation_id)
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

    def _say(
        self,
        conn: Connection,
        customer_id: int,
        conversation_id: int,
        prompts: Sequence[Mapping[str, Any]],
        now: float,
    ) -> list[OutboxRow]:
        rows: list[OutboxRow] = []
        for prompt in prompts:
            rows.extend(self._say_one(conn, customer_id, conversation_id, prompt, now)[1])
        return rows

    def _say_one(
        self,
        conn: Connection,
        customer_id: int,
        conversation_id: int,
        prompt: Mapping[str, Any],
        now: float,
        *,
        author: str = "bot",
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[int, list[OutboxRow]]:
        """Record one outbound message to the customer's current identity and queue it."""
        ident = conn.execute(
            select(
                _identities.c.id,
                _identities.c.channel,
                _identities.c.external_id,
                _identities.c.route,
                _identities.c.opted_out,
                _identities.c.unreachable,
            )
            .join(_customers, _customers.c.last_identity_id == _identities.c.id)
            .where(_customers.c.id == customer_id)
        ).first()
        if ident is None:  # never wrote from anywhere: fall back to their first identity
            ident = conn.execute(
                select(
                    _identities.c.id,
                    _identities.c.channel,
                    _identities.c.external_id,
                    _identities.c.route,
                    _identities.c.opted_out,
                    _identities.c.unreachable,
                )
                .where(_identities.c.customer_id == customer_id)
                .order_by(_identities.c.id)
                .limit(1)
            ).one()
        identity_id, channel, external_id, route, opted_out, unreachable = ident
        sendable = not (opted_out or unreachable)
        payload = dict(prompt)
        message_id = int(
            conn.execute(
                insert(_messages).returning(_messages.c.id),
                {
                    "customer_id": customer_id,
                    "conversation_id": conversation_id,
                    "direction": "out",
                    "author": author,
                    "channel": channel,
                    "identity_id": identity_id,
                    "text": str(prompt.get("text", "")),
                    "payload": {**payload, **(extra or {})},
                    "platform_message_id": None,
                    "delivery_status": "pending" if sendable else "not sent",
                    "error": None
                    if sendable
                    else f"the customer {'opted out' if opted_out else 'cannot be reached'} "
                    f"on {channel}",
                    "created_at": now,
                },
            ).scalar_one()
        )
        if not sendable:
            return message_id, []
        outbox_id = int(
            conn.execute(
                insert(_outbox).returning(_outbox.c.id),
                {
                    "customer_id": customer_id,
                    "message_id": message_id,
                    "channel": channel,
                    "identity_id": identity_id,
                    "external_id": external_id,
                    "route": route,
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "claimed_by": self._store.owner,
                    "claim_until": now + _OUTBOX_CLAIM,
                    "created_at": now,
                },
            ).scalar_one()
        )
        return message_id, [
            OutboxRow(
                outbox_id,
                customer_id,
                message_id,
                channel,
                identity_id,
                external_id,
                route,
                payload,
                0,
                now,
            )
        ]

    # -- canned replies --------------------------------------------------------------------

    async def canned_replies(self) -> list[Mapping[str, Any]]:
        """Every canned reply, by title."""
        return await self._runner.run(
            lambda c: [
                dict(r) for r in c.execute(select(_canned).order_by(_canned.c.title)).mappings()
            ]
        )

    async def add_canned_reply(self, title: str, text: str, created_by: int) -> int:
        """Add a canned reply."""
        return await self._runner.run(
            lambda c: int(
                c.execute(
                    insert(_canned).returning(_canned.c.id),
                    {
                        "title": title,
                        "text": text,
                        "created_by": created_by,
                        "created_at": time.time(),
                    },
                ).scalar_one()
            )
        )

    async def delete_canned_reply(self, reply_id: int) -> bool:
        """Delete a canned reply; False if there was none."""
        return await self._runner.run(
            lambda c: bool(c.execute(delete(_canned).where(_canned.c.id == reply_id)).rowcount)
        )

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
                _event(
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
            cond = [_handoffs.c.id == handoff_id, _handoffs.c.status == "waiting"]
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
            return self._say(conn, int(row[0]), int(row[1]), [{"text": text}], time.time())

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
            for conversation_id, customer_id, status, since, reason in orphans:
                if status == "agent":  # nobody holds it any more: back in the queue
                    conn.execute(
                        update(_conversations)
                        .where(_conversations.c.id == conversation_id)
                        .values(status="waiting")
                    )
                handoff_id = conn.execute(
                    insert(_handoffs).returning(_handoffs.c.id),
                    {
                        "customer_id": customer_id,
                        "conversation_id": conversation_id,
                        "status": "waiting",
                        "trigger": "customer",
                        "reason": reason,
                        "summary": {},
                        "created_at": since,
                        "position_at_entry": 1,
                        "deadline_at": deadline_at(since),
                    },
                ).scalar_one()
                _event(conn, (handoff_id, customer_id, conversation_id), "waiting")
            return [int(r[0]) for r in orphans]

        return await self._runner.run(write)

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
                    .where(_messages.c.customer_id == customer, _messages.c.direction == "out")
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


def _agent_from(m: Mapping[Any, Any]) -> AgentRow:
    return AgentRow(
        int(m[_agents.c.id]),
        str(m[_agents.c.email]),
        str(m[_agents.c.name]),
        str(m[_agents.c.role]),
        bool(m[_agents.c.active]),
        str(m[_agents.c.password_hash]),
        int(m[_agents.c.failed_logins]),
        m[_agents.c.locked_until],
        float(m[_agents.c.created_at]),
        m[_agents.c.last_login_at],
    )


def _agent(row: Any) -> AgentRow:
    return _agent_from(row._mapping)


def _maybe_agent(result: Any) -> AgentRow | None:
    row = result.first()
    return None if row is None else _agent(row)


def _token(row: Any) -> TokenRow:
    m = row._mapping
    return TokenRow(
        int(m["id"]),
        int(m["agent_id"]),
        int(m["created_by"]),
        str(m["name"]),
        float(m["created_at"]),
        m["last_used_at"],
        m["revoked_at"],
    )


def _require(conn: Connection, conversation_id: int) -> Access:
    row = conn.execute(
        select(
            _conversations.c.id,
            _conversations.c.customer_id,
            _conversations.c.status,
            _handoffs.c.id,
            _handoffs.c.status,
            _handoffs.c.agent_id,
            _handoffs.c.assigned_to,
        )
        .select_from(_conversations)
        .outerjoin(
            _handoffs,
            and_(
                _handoffs.c.conversation_id == _conversations.c.id,
                _handoffs.c.status.in_(OPEN),
            ),
        )
        .where(_conversations.c.id == conversation_id)
    ).first()
    if row is None:
        raise ConsoleConflict("not_found", "no such conversation")
    return Access(int(row[0]), int(row[1]), str(row[2]), row[3], row[4], row[5], row[6])


def _require_open(conn: Connection, conversation_id: int) -> Access:
    acc = _require(conn, conversation_id)
    if acc.handoff_id is None:
        raise ConsoleConflict("taken", "this conversation is no longer waiting for a person")
    return acc


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
        _event(conn, (handoff_id, customer_id, conversation_id), status, agent=actor, now=now)


def _event(
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


def _last_inbound(conn: Connection, customer_ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    ids = list(set(customer_ids))
    if not ids:
        return {}
    newest = (
        select(func.max(_messages.c.id))
        .where(_messages.c.customer_id.in_(ids), _messages.c.direction == "in")
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
