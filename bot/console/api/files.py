"""Files customers sent, for the agents who may see their conversation: no public URLs.

`GET /api/files/{id}` answers the bytes of a kept file to an agent (session or API token) who
may see the customer's conversation, and 404 to anyone else, as for conversations: ids reveal
nothing. Pictures that browsers show safely (JPEG, PNG, GIF, WebP) are served inline, so the
console shows them as thumbnails; every other type is a download (`Content-Disposition:
attachment`), and nothing is ever sniffed or run (`nosniff`, a sandboxing CSP).
"""

from __future__ import annotations

from aiohttp import web

from bot.console.api._request import authed, path_id, visible
from bot.console.auth import Principal, fail
from bot.console.core import Console
from bot.media import MediaIntake

__all__ = ["routes"]

_INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@authed
async def download(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/files/{id}: a kept file's bytes, to an agent who may see its conversation."""
    file_id = path_id(request)
    intake = console.engine.feature(MediaIntake)
    row = await intake.rows.get(file_id)
    conversation = await console.db._store.conversation(row.customer_id) if row else None
    if row is None or conversation is None or row.location is None:
        fail(404, "not_found", "no such file")
    await visible(console, who, int(conversation["id"]))
    try:
        data = await intake.files.read(row.location)
    except (FileNotFoundError, OSError):
        fail(404, "not_found", "the file is no longer kept")
    mime = row.mime_type or "application/octet-stream"
    inline = mime in _INLINE
    name = (row.name or f"file-{row.id}").replace('"', "").replace("\\", "")
    return web.Response(
        body=data,
        content_type=mime if inline else "application/octet-stream",
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def routes() -> list[web.RouteDef]:
    """The files' routes."""
    return [web.get("/api/files/{id}", download)]
