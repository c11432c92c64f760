"""Reports (admin): the reply-by promises that were broken."""

from __future__ import annotations

from aiohttp import web

from bot.console.api._request import admin_only, authed
from bot.console.auth import Principal, fail
from bot.console.core import Console

__all__ = ["routes"]


@authed
async def breaches(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/reports/breaches (admin): reply-by promises broken since `since`."""
    admin_only(who)
    try:
        since = float(request.query.get("since", "0"))
    except ValueError:
        fail(400, "invalid", "since is a Unix time")
    rows = await console.db.breaches(since)
    return web.json_response({"breaches": rows})


def routes() -> list[web.RouteDef]:
    """The reports' routes."""
    return [web.get("/api/reports/breaches", breaches)]
