"""A conversation's messages on every channel, the agent's replies and internal notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.console.api._request import authed, json_body, path_id, required_text, visible
from bot.console.api.files import attachments
from bot.console.auth import Principal, fail
from bot.console.core import Console

__all__ = ["routes"]


def _messages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the console shows them; a pressed button shows the label it had."""
    out = []
    labels: dict[str, str] = {}
    for m in rows:
        payload = m["payload"] or {}
        if m["direction"] == "out" and payload.get("choices"):
            labels = {str(v): str(label) for v, label in payload["choices"]}
        out.append(_message(m, labels))
    return out


def _message(m: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    payload = m["payload"] or {}
    text = m["text"]
    pressed = m["direction"] == "in" and text is None and payload.get("choice") is not None
    if pressed:
        text = labels.get(str(payload["choice"]), str(payload["choice"]))
    data: dict[str, Any] = {
        "id": m["id"],
        "direction": m["direction"],
        "author": m["author"],
        "channel": m["channel"],
        "text": text,
        "choices": [str(label) for _, label in payload.get("choices", ())],
        "media": [
            {"kind": k, "name": n or k, "mime_type": t} for k, _, t, n in payload.get("media", ())
        ],
        "files": [
            {
                "id": f["id"],
                "kind": f.get("kind"),
                "name": f.get("name") or f.get("kind"),
                "mime_type": f.get("mime_type"),
                "size": f.get("size"),
                "url": f"/api/files/{f['id']}",
            }
            for f in payload.get("files", ())
            if isinstance(f, Mapping) and f.get("id") is not None
        ],
        "delivery_status": m["delivery_status"],
        "error": m["error"],
        "created_at": m["created_at"],
        "agent": None,
        "pressed": pressed,
    }
    if payload.get("agent_id") is not None:
        data["agent"] = {"id": payload["agent_id"], "name": payload.get("agent_name")}
    if payload.get("contact_phone"):
        data["text"] = (text + "\n" if text else "") + f"[contact {payload['contact_phone']}]"
    if payload.get("location"):
        lat, lon = payload["location"]
        data["text"] = (data["text"] + "\n" if data["text"] else "") + f"[location {lat}, {lon}]"
    return data


@authed
async def messages(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations/{id}/messages: the history on every channel, oldest first."""
    access = await visible(console, who, path_id(request))
    try:
        before = int(request.query["before"]) if "before" in request.query else None
        limit = min(500, max(1, int(request.query.get("limit", "200"))))
    except ValueError:
        fail(400, "invalid", "before and limit must be integers")
    rows = await console.db.history(access.customer_id, before=before, limit=limit)
    return web.json_response({"messages": _messages(rows)})


@authed
async def reply(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/conversations/{id}/messages: reply on the customer's current channel."""
    access = await visible(console, who, path_id(request))
    body = await json_body(request)
    media: list[list[Any]] = []
    shown: list[dict[str, Any]] = []
    if body.get("files"):  # kept by POST /api/conversations/{id}/files
        media, shown = await attachments(console, access.customer_id, body["files"])
    text = required_text(body, "text") if body.get("text") or not media else ""
    message_id = await console.handoffs.reply(
        access.conversation_id, access.customer_id, who.agent, text, media=media, files=shown
    )
    return web.json_response({"id": message_id}, status=201)


@authed
async def add_note(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/conversations/{id}/notes: an internal note the customer never sees."""
    access = await visible(console, who, path_id(request))
    text = required_text(await json_body(request), "text")
    note_id = await console.db.add_note(access.conversation_id, who.agent.id, text)
    console.hub.kick()
    return web.json_response({"id": note_id}, status=201)


def routes() -> list[web.RouteDef]:
    """The messages' and notes' routes."""
    return [
        web.get("/api/conversations/{id}/messages", messages),
        web.post("/api/conversations/{id}/messages", reply),
        web.post("/api/conversations/{id}/notes", add_note),
    ]
