"""The local adapters: the web chat at /chat and the terminal (`baton shell`).

No platform is involved: messages go straight into the engine's inbox and replies are kept in
memory for the page (or terminal) to pick up, so Baton is useful on a fresh machine with no
credentials. Both run through the same inbox, lanes, flows and outbox as every channel.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

from aiohttp import web

from adapters.base import Address, Limits, Prompt, Rendered, Sent, Sink
from adapters.body import read_json
from adapters.errors import BadRequest, SendError
from adapters.web.parse import inbound_from_post
from adapters.web.render import render_prompt

__all__ = ["LocalAdapter", "Reply", "ShellAdapter", "WebAdapter"]

_COOKIE = "baton_chat"
_MAX_BODY = 64 * 1024  # a message of 4096 characters, escaped, fits many times
_KEEP = 200  # replies kept per identity for the page to fetch


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply as a local channel shows it."""

    seq: int
    text: str
    choices: tuple[tuple[str, str], ...]
    at: float


class LocalAdapter:
    """Keeps replies in memory per identity and lets callers await them."""

    channel: ClassVar[str] = "local"
    limits: ClassVar[Limits] = Limits(max_text=100_000, max_choices=20, buttons=True)

    def __init__(self) -> None:
        self._replies: dict[str, deque[Reply]] = {}
        self._seq = 0
        self._changed = asyncio.Condition()

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """No webhooks."""
        return ()

    async def start(self) -> None:
        """Nothing to connect."""

    def render(self, prompt: Prompt) -> Rendered:
        """One message with its choices as buttons."""
        return render_prompt(prompt)

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Keep the reply for the page or terminal of `to.identity`.

        Raises:
            SendError: The reply carries files, which this channel cannot (permanent).
        """
        files = [str(name) for part in rendered.parts for name in part.get("files", ())]
        if files:
            raise SendError(
                f"{self.channel} cannot carry files ({', '.join(files)}): send them to a "
                "channel that can (Telegram, SMS, Slack, ...) or put a link in the text",
                retryable=False,
                code="no_files",
            )
        ids = []
        async with self._changed:
            queue = self._replies.setdefault(to.identity, deque(maxlen=_KEEP))
            for part in rendered.parts:
                # Increasing across restarts too, so an open page's cursor stays valid.
                self._seq = max(self._seq + 1, int(time.time() * 1000))
                queue.append(
                    Reply(
                        self._seq,
                        str(part["text"]),
                        tuple((v, lbl) for v, lbl in part.get("choices", ())),
                        time.time(),
                    )
                )
                ids.append(f"{self.channel}-{self._seq}")
            self._changed.notify_all()
        return Sent(tuple(ids))

    def replies(self, identity: str, after: int = 0) -> list[Reply]:
        """Replies to `identity` with a sequence number above `after`."""
        return [r for r in self._replies.get(identity, ()) if r.seq > after]

    async def wait(self, identity: str, after: int = 0, timeout: float = 25.0) -> list[Reply]:
        """Wait until a reply after `after` exists (or `timeout`), then return them."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: bool(self.replies(identity, after))), timeout
                )
            except TimeoutError:
                return []
        return self.replies(identity, after)

    async def aclose(self) -> None:
        """Nothing to close."""


class ShellAdapter(LocalAdapter):
    """The terminal channel of `baton shell`."""

    channel: ClassVar[str] = "shell"


class WebAdapter(LocalAdapter):
    """The web chat page at /chat (no platform, no credentials)."""

    channel: ClassVar[str] = "web"

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """The page, its script, and its small JSON API."""

        async def page(request: web.Request) -> web.StreamResponse:
            body = resources.files("adapters.static").joinpath("chat.html").read_text()
            response = web.Response(text=body, content_type="text/html")
            _security_headers(response)
            if _COOKIE not in request.cookies:
                response.set_cookie(
                    _COOKIE,
                    secrets.token_urlsafe(18),
                    httponly=True,
                    samesite="Strict",
                    max_age=365 * 86400,
                    path="/chat",
                )
            return response

        async def script(_: web.Request) -> web.StreamResponse:
            body = resources.files("adapters.static").joinpath("chat.js").read_text()
            return web.Response(text=body, content_type="application/javascript")

        async def post(request: web.Request) -> web.StreamResponse:
            identity = _identity(request)
            data = await read_json(request, max_bytes=_MAX_BODY)
            try:
                message = inbound_from_post(
                    data, channel=self.channel, message_id=uuid.uuid4().hex, identity=identity
                )
                await sink.receive([message])
            except BadRequest as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
            return web.json_response({"ok": True})

        async def poll(request: web.Request) -> web.StreamResponse:
            identity = _identity(request)
            try:
                after = int(request.query.get("after", "0"))
                timeout = min(25.0, float(request.query.get("wait", "25")))
            except ValueError:
                raise web.HTTPBadRequest(text="after and wait must be numbers") from None
            replies = await self.wait(identity, after, timeout)
            return web.json_response(
                {
                    "replies": [
                        {"seq": r.seq, "text": r.text, "choices": [list(c) for c in r.choices]}
                        for r in replies
                    ]
                }
            )

        return [
            web.get("/chat", page),
            web.get("/chat/chat.js", script),
            web.post("/chat/api/messages", post),
            web.get("/chat/api/messages", poll),
        ]


def _identity(request: web.Request) -> str:
    token = request.cookies.get(_COOKIE)
    if not token or len(token) > 64 or not token.replace("-", "").replace("_", "").isalnum():
        raise web.HTTPUnauthorized(text="open /chat first to get a chat session")
    return token


def _security_headers(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def dumps(value: Any) -> str:
    """Compact JSON."""
    return json.dumps(value, separators=(",", ":"))
