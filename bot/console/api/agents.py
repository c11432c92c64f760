"""Agents' accounts: colleagues' names for everyone; creating and changing them for admins."""

from __future__ import annotations

import re

from aiohttp import web

from bot.console import auth
from bot.console.api._request import (
    MAX_NAME,
    admin_only,
    authed,
    json_body,
    path_id,
    required_text,
)
from bot.console.api._shapes import agent_json
from bot.console.auth import Principal, fail
from bot.console.core import Console
from storage.vocabulary import Role

__all__ = ["routes"]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_ROLES = tuple(Role)


@authed
async def agents(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/agents: admins get every account; agents the active colleagues' names."""
    rows = await console.db.agents()
    if who.admin:
        return web.json_response({"agents": [agent_json(a, full=True) for a in rows]})
    return web.json_response({"agents": [agent_json(a) for a in rows if a.active]})


@authed
async def add_agent(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/agents (admin): create an account; a generated password is shown once."""
    admin_only(who)
    data = await json_body(request)
    email = required_text(data, "email", 320).lower()
    if not _EMAIL.match(email):
        fail(400, "invalid", "email is not an email address")
    name = required_text(data, "name", MAX_NAME)
    role = data.get("role", Role.AGENT.value)
    if role not in _ROLES:
        fail(400, "invalid", "role is agent or admin")
    password = data.get("password")
    generated = None
    if password is None:
        password = generated = auth.new_password()
    elif not isinstance(password, str) or not 12 <= len(password) <= 1024:
        fail(400, "invalid", "a password has 12 to 1024 characters")
    agent = await console.db.add_agent(email, name, str(role), auth.hash_password(password))
    return web.json_response(
        {"agent": agent_json(agent, full=True), "password": generated}, status=201
    )


@authed
async def change_agent(request: web.Request, console: Console, who: Principal) -> web.Response:
    """PATCH /api/agents/{id} (admin): rename, change role, (de)activate, set a password."""
    admin_only(who)
    agent_id = path_id(request)
    data = await json_body(request)
    name = required_text(data, "name", MAX_NAME) if "name" in data else None
    role = data.get("role")
    if role is not None and role not in _ROLES:
        fail(400, "invalid", "role is agent or admin")
    active = data.get("active")
    if active is not None and not isinstance(active, bool):
        fail(400, "invalid", "active is true or false")
    if agent_id == who.agent.id and (active is False or role == Role.AGENT):
        fail(400, "invalid", "you cannot demote or deactivate yourself")
    password = data.get("password")
    if password is not None and (not isinstance(password, str) or not 12 <= len(password) <= 1024):
        fail(400, "invalid", "a password has 12 to 1024 characters")
    agent = await console.db.update_agent(
        agent_id,
        name=name,
        role=role,
        active=active,
        password_hash=auth.hash_password(password) if password else None,
    )
    if agent is None:
        fail(404, "not_found", "no such agent")
    return web.json_response({"agent": agent_json(agent, full=True)})


def routes() -> list[web.RouteDef]:
    """The agents' routes."""
    return [
        web.get("/api/agents", agents),
        web.post("/api/agents", add_agent),
        web.patch("/api/agents/{id}", change_agent),
    ]
