"""The agent console: the /console page, its JSON API under /api/, and live updates.

`mount_console(app, settings, dialogs_app)` adds the routes to Baton's web application and
returns the `Console`, which the application starts once storage and the engine exist.
"""

from __future__ import annotations

from aiohttp import web

from bot.console.core import CONSOLE, Console
from bot.settings import Settings
from dialogs import App

__all__ = ["CONSOLE", "Console", "mount_console"]


def mount_console(app: web.Application, settings: Settings, dialogs_app: App) -> Console:
    """Add the console's routes to `app`; start the returned `Console` with the engine."""
    from bot.console import api, live, pages

    console = Console(settings, dialogs_app)
    app[CONSOLE] = console
    app.router.add_routes(pages.routes())
    app.router.add_routes(api.routes())
    app.router.add_routes(live.routes())
    app.on_response_prepare.append(_api_headers)
    return console


async def _api_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/api/") and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "no-store")
