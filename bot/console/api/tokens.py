"""API tokens (admin): each acts as one agent, is shown once and works until revoked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.console import auth
from bot.console.api._request import (
    MAX_NAME,
    admin_only,
    authed,
    json_body,
    optional_int,
    path_id,
    required_text,
)
from bot.console.api._shapes import agents_by_id, ref
from bot.console.auth import Principal, fail
from bot.console.core import Console
from storage import AgentRow, TokenRow

__all__ = ["routes"]


def _token(token: TokenRow, agents: Mapping[int, AgentRow]) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "agent": ref(agents, token.agent_id),
        "created_by": ref(agents, token.created_by),
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked": token.revoked_at is not None,
    }


@authed
async def tokens(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/tokens (admin)."""
    admin_only(who)
    agents = await agents_by_id(console)
    rows = await console.db.tokens()
    return web.json_response({"tokens": [_token(t, agents) for t in rows]})


@authed
async def add_token(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/tokens (admin): a token acting as an agent (default: the admin); shown once."""
    admin_only(who)
    data = await json_body(request)
    name = required_text(data, "name", MAX_NAME)
    agent_id = optional_int(data, "agent_id") or who.agent.id
    agent = await console.db.agent(agent_id)
    if agent is None or not agent.active:
        fail(400, "invalid", "agent_id is not an active agent")
    token = auth.new_token()
    row = await console.db.create_token(auth.token_hash(token), agent_id, who.agent.id, name)
    body = _token(row, await agents_by_id(console))
    body["token"] = token
    return web.json_response(body, status=201)


@authed
async def revoke_token(request: web.Request, console: Console, who: Principal) -> web.Response:
    """DELETE /api/tokens/{id} (admin)."""
    admin_only(who)
    if not await console.db.revoke_token(path_id(request)):
        fail(404, "not_found", "no such token")
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    """The API tokens' routes."""
    return [
        web.get("/api/tokens", tokens),
        web.post("/api/tokens", add_token),
        web.delete("/api/tokens/{id}", revoke_token),
    ]
