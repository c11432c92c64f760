"""The /console pages: static HTML, one script and one style sheet; no build step.

Everything customers write reaches the page only as JSON, and the script puts it in the page
with `textContent`, never as HTML. The Content-Security-Policy allows scripts from this
server only (no inline scripts, no eval), so even a mistake there could not run injected
code.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from bot.console.auth import current_session
from bot.console.core import CONSOLE

__all__ = ["CSP", "routes"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_STATIC = {
    "console.js": "application/javascript",
    "login.js": "application/javascript",
    "console.css": "text/css",
}


def secure(response: web.StreamResponse) -> web.StreamResponse:
    """The headers every console response carries."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return response


def _file(name: str) -> str:
    return resources.files("bot.console.static").joinpath(name).read_text(encoding="utf-8")


async def _console(request: web.Request) -> web.StreamResponse:
    if await current_session(request.app[CONSOLE], request) is None:
        raise web.HTTPFound("/console/login")
    response = web.Response(text=_file("console.html"), content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return secure(response)


async def _login(request: web.Request) -> web.StreamResponse:
    response = web.Response(text=_file("login.html"), content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return secure(response)


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    kind = _STATIC.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    response = web.Response(text=_file(name), content_type=kind)
    response.headers["Cache-Control"] = "no-cache"
    return secure(response)


async def _slash(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console")


def routes() -> list[web.RouteDef]:
    """The page routes."""
    return [
        web.get("/console", _console),
        web.get("/console/", _slash),
        web.get("/console/login", _login),
        web.get("/console/static/{name}", _static),
    ]
