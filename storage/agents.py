"""Agent accounts, their login sessions, API tokens and canned replies: who works in the
console and with what. Part of the storage layer (`ConsoleStore` gathers it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage._runner import Runner
from storage.errors import ConsoleConflict
from storage.tables import metadata
from storage.vocabulary import Role

__all__ = ["AgentAccounts", "AgentRow", "SessionRow", "TokenRow"]

_agents: Table = metadata.tables["agents"]
_sessions: Table = metadata.tables["agent_sessions"]
_tokens: Table = metadata.tables["api_tokens"]
_canned: Table = metadata.tables["canned_replies"]


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
        return self.role == Role.ADMIN


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


class AgentAccounts:
    """Agents, sessions, API tokens and canned replies (a part of `ConsoleStore`)."""

    _runner: Runner

    # -- agents ----------------------------------------------------------------------------

    async def add_agent(self, email: str, name: str, role: str, password_hash: str) -> AgentRow:
        """Create an agent; raises ConsoleConflict("exists") for a known email."""
        now = time.time()

        def write(conn: Connection) -> AgentRow:
            # One statement: two processes adding one email at once get one agent, and the
            # other a clear conflict rather than a unique-key error.
            ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            agent_id = conn.execute(
                ins(_agents)
                .on_conflict_do_nothing(index_elements=["email"])
                .returning(_agents.c.id),
                {
                    "email": email,
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "active": True,
                    "failed_logins": 0,
                    "created_at": now,
                },
            ).scalar()
            if agent_id is None:
                raise ConsoleConflict("exists", f"an agent with email {email} already exists")
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
