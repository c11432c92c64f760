"""Files in conversations, for the agents who may see them: no public URLs.

`POST /api/conversations/{id}/files?name=invoice.pdf` keeps an agent's attachment (the body is
the file, its Content-Type the file's type; size and type checked as for customers' files) and
answers its id; `POST /api/conversations/{id}/messages` with `"files": [id, ...]` sends it to
the customer on their channel (`attachments` turns the ids into the reply's media).

`GET /api/files/{id}` answers the bytes of a kept file to an agent (session or API token) who
may see the customer's conversation, and 404 to anyone else, as for conversations: ids reveal
nothing. Pictures that browsers show safely (JPEG, PNG, GIF, WebP) are served inline, so the
console shows them as thumbnails; every other type is a download (`Content-Disposition:
attachment`), and nothing is ever sniffed or run (`nosniff`, a sandboxing CSP).
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bot.console.api._request import authed, path_id, visible
from bot.console.auth import Principal, fail
from bot.console.core import Console
from bot.media import MediaIntake

__all__ = ["attachments", "routes"]

_INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@authed
async def download(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/files/{id}: a kept file's bytes, to an agent who may see its conversation."""
    file_id = path_id(request)
    intake = console.engine.feature(MediaIntake)
    row = await intake.rows.get(file_id)
    conversation = await console.handoffs.store.conversation(row.customer_id) if row else None
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


@authed
async def upload(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/conversations/{id}/files?name=...: keep an agent's attachment for a reply."""
    access = await visible(console, who, path_id(request))
    intake = console.engine.feature(MediaIntake)
    config = intake.config
    mime = request.content_type.lower()
    if not config.allows(mime):
        fail(415, "file_type", f"{mime} files are not accepted: {', '.join(config.types)}")
    if request.content_length is not None and request.content_length > config.max_bytes:
        fail(413, "too_large", f"the limit is {config.max_bytes} bytes")
    # The whole body: the server's body deadline (bot.web_guard) may have read it already, and
    # then `request.content` is empty; `read()` answers the bytes either way.
    data = await request.read()
    if len(data) > config.max_bytes:
        fail(413, "too_large", f"the limit is {config.max_bytes} bytes")
    if not data:
        fail(400, "invalid", "send the file as the request body")
    name = (request.query.get("name") or "").strip()[:200] or "attachment"
    location = await intake.files.put(
        access.customer_id, bytes(data), suffix=mimetypes.guess_extension(mime) or ""
    )
    kind = mime.split("/")[0] if mime.split("/")[0] in ("image", "audio", "video") else "document"
    file_id = await intake.rows.record(
        customer_id=access.customer_id,
        channel="console",
        direction="out",
        platform_ref=f"agent:{who.agent.id}",
        kind=kind,
        mime_type=mime,
        name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        location=location,
        status="stored",
    )
    return web.json_response(
        {"id": file_id, "name": name, "mime_type": mime, "size": len(data)}, status=201
    )


async def attachments(
    console: Console, customer_id: int, ids: Sequence[Any]
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """(the reply's media, what the console shows of them) for kept file `ids` of
    `customer_id`; a 400 for an id that is not one of the customer's kept files."""
    if not isinstance(ids, list) or len(ids) > 10 or not all(isinstance(i, int) for i in ids):
        fail(400, "invalid", "files must be a list of at most 10 file ids")
    rows = console.engine.feature(MediaIntake).rows
    media: list[list[Any]] = []
    shown: list[dict[str, Any]] = []
    for file_id in ids:
        row = await rows.get(file_id)
        if row is None or row.customer_id != customer_id or row.location is None:
            fail(400, "invalid", f"no file {file_id} in this conversation")
        media.append([row.kind, row.location, row.mime_type, row.name])
        shown.append(
            {
                "id": row.id,
                "kind": row.kind,
                "name": row.name,
                "mime_type": row.mime_type,
                "size": row.size,
            }
        )
    return media, shown


def routes() -> list[web.RouteDef]:
    """The files' routes."""
    return [
        web.get("/api/files/{id}", download),
        web.post("/api/conversations/{id}/files", upload),
    ]
