"""The console's customer page (/console/customers): search, consents, data requests, and
export and erasure for admins. It uses the JSON API (`bot.console.api.customers`) with the
console's session, under the console's Content-Security-Policy."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from bot.console.auth import current_session
from bot.console.core import CONSOLE
from bot.console.pages import secure

__all__ = ["routes"]


def _file(name: str) -> str:
    return resources.files("bot.privacy.static").joinpath(name).read_text(encoding="utf-8")


async def _page(request: web.Request) -> web.StreamResponse:
    if await current_session(request.app[CONSOLE], request) is None:
        raise web.HTTPFound("/console/login")
    response = web.Response(text=_file("customers.html"), content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return secure(response)


async def _script(_: web.Request) -> web.StreamResponse:
    response = web.Response(text=_file("customers.js"), content_type="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return secure(response)


def routes() -> list[web.RouteDef]:
    """The customer page's routes."""
    return [
        web.get("/console/customers", _page),
        web.get("/console/privacy/customers.js", _script),
    ]
