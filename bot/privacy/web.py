"""The one-time export link: GET shows a page with a button (link previews fetch GETs and
must not use the link up); the button's POST uses the token and answers the export."""

from __future__ import annotations

from html import escape

from aiohttp import web

from bot.privacy.page import export_page

__all__ = ["routes"]

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_GONE = (
    "<!doctype html><meta charset=utf-8><title>Link used</title>"
    "<p>This link was already used or has expired. Ask again in the chat for a new one.</p>"
)


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not (20 <= len(token) <= 100) or not token.replace("-", "").replace("_", "").isalnum():
        raise web.HTTPNotFound(text=_GONE, content_type="text/html", headers=_HEADERS)
    return token


async def _ask(request: web.Request) -> web.Response:
    token = escape(_token(request))
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=robots content=noindex>"
        "<title>Your data</title><p>This link works once. Open your data now?</p>"
        f"<form method=post action='/privacy/export/{token}'>"
        "<button name=format value=html>Show my data</button> "
        "<button name=format value=json>Download as JSON</button></form></html>"
    )
    return web.Response(text=body, content_type="text/html", headers=_HEADERS)


async def _open(request: web.Request) -> web.Response:
    from bot.app import ENGINE
    from bot.privacy.service import Privacy

    token = _token(request)
    form = await request.post()
    privacy = request.app[ENGINE].feature(Privacy)
    customer_id = await privacy.db.redeem_export_link(token, ip=request.remote)
    if customer_id is None:
        return web.Response(status=410, text=_GONE, content_type="text/html", headers=_HEADERS)
    data = await privacy.db.export(customer_id, actor="customer", ip=request.remote)
    if data is None:
        return web.Response(status=410, text=_GONE, content_type="text/html", headers=_HEADERS)
    if form.get("format") == "json":
        return web.json_response(
            data,
            headers={**_HEADERS, "Content-Disposition": 'attachment; filename="my-data.json"'},
        )
    return web.Response(text=export_page(data), content_type="text/html", headers=_HEADERS)


def routes() -> list[web.RouteDef]:
    """The export link's routes."""
    return [
        web.get("/privacy/export/{token}", _ask),
        web.post("/privacy/export/{token}", _open),
    ]
