"""Logging in and out, and the agent's own sessions: /api/session and /api/sessions."""

from __future__ import annotations

import time

from aiohttp import web

from bot.console import auth
from bot.console.api._request import authed, json_body
from bot.console.api._shapes import agent_json
from bot.console.auth import Principal, fail
from bot.console.core import CONSOLE, Console

__all__ = ["routes"]


async def log_in(request: web.Request) -> web.StreamResponse:
    """POST /api/session: log in with email and password; sets the session cookie."""
    console = request.app[CONSOLE]
    origin = request.headers.get("Origin")
    if origin is not None and origin not in auth.allowed_origins(console, request):
        fail(403, "bad_origin", "log in from Baton's own login page")
    data = await json_body(request)
    email = data.get("email")
    password = data.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > 1024:
        fail(400, "invalid", "send email and password")
    agent, token, csrf = await auth.log_in(console, request, email, password)
    response = web.json_response({"agent": agent_json(agent, full=True), "csrf_token": csrf})
    auth.set_cookie(response, token, console.settings.console_session_hours * 3600)
    response.headers["Cache-Control"] = "no-store"
    return response


@authed
async def session(request: web.Request, console: Console, who: Principal) -> web.StreamResponse:
    """GET /api/session: who is logged in, the CSRF token and the console's settings."""
    response = web.json_response(
        {
            "agent": agent_json(who.agent, full=True),
            "csrf_token": who.session.csrf_token if who.session else None,
            "now": time.time(),
            "reply_by_warning_seconds": console.config.warn_before,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def log_out(request: web.Request) -> web.StreamResponse:
    """DELETE /api/session: end the session server-side and clear the cookie."""
    console = request.app[CONSOLE]
    await auth.authenticate(console, request)  # CSRF-checked: no cross-site logout
    await auth.log_out(console, request)
    response = web.json_response({"ok": True})
    auth.clear_cookie(response)
    return response


@authed
async def my_sessions(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/sessions: where I am logged in."""
    current = who.session.id if who.session else None
    rows = await console.db.sessions_of(who.agent.id)
    return web.json_response(
        {
            "sessions": [
                {
                    "id": r["id"],
                    "created_at": r["created_at"],
                    "last_seen_at": r["last_seen_at"],
                    "expires_at": r["expires_at"],
                    "user_agent": r["user_agent"],
                    "current": r["id"] == current,
                }
                for r in rows
            ]
        }
    )


@authed
async def end_session(request: web.Request, console: Console, who: Principal) -> web.Response:
    """DELETE /api/sessions/{id}: log one of my sessions out."""
    sid = request.match_info["sid"]
    if not await console.db.delete_session(sid, agent_id=who.agent.id):
        fail(404, "not_found", "no such session")
    console.hub.session_ended(sid)
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    """The session routes."""
    return [
        web.post("/api/session", log_in),
        web.get("/api/session", session),
        web.delete("/api/session", log_out),
        web.get("/api/sessions", my_sessions),
        web.delete("/api/sessions/{sid}", end_session),
    ]
