"""Canned replies: one click for every agent, written by admins."""

from __future__ import annotations

from aiohttp import web

from bot.console.api._request import (
    MAX_NAME,
    admin_only,
    authed,
    json_body,
    path_id,
    required_text,
)
from bot.console.auth import Principal, fail
from bot.console.core import Console

__all__ = ["routes"]


@authed
async def canned(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/canned-replies."""
    rows = await console.db.canned_replies()
    return web.json_response(
        {"canned_replies": [{"id": r["id"], "title": r["title"], "text": r["text"]} for r in rows]}
    )


@authed
async def add_canned(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/canned-replies (admin)."""
    admin_only(who)
    data = await json_body(request)
    reply_id = await console.db.add_canned_reply(
        required_text(data, "title", MAX_NAME), required_text(data, "text"), who.agent.id
    )
    return web.json_response({"id": reply_id}, status=201)


@authed
async def delete_canned(request: web.Request, console: Console, who: Principal) -> web.Response:
    """DELETE /api/canned-replies/{id} (admin)."""
    admin_only(who)
    if not await console.db.delete_canned_reply(path_id(request)):
        fail(404, "not_found", "no such canned reply")
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    """The canned replies' routes."""
    return [
        web.get("/api/canned-replies", canned),
        web.post("/api/canned-replies", add_canned),
        web.delete("/api/canned-replies/{id}", delete_canned),
    ]
