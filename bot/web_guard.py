"""What every HTTP exchange gets, whatever route it reaches: security headers on every response
(errors included), and deadlines for reading a request.

Headers: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
`X-Frame-Options: DENY` on every response; a page that sets its own (the console, the chat
page, the sandbox, with their Content-Security-Policy) keeps them.

Read deadlines (BATON_READ_TIMEOUT_SECONDS): a request's headers must arrive within the
deadline of the connection opening or of its previous answer (aiohttp's keep-alive timeout,
set by `baton run`), and its body within the deadline of its headers; a slow body is answered
408 and the connection closed. Bodies are read here, before any handler, so a handler that
checks a signature over the body (Slack's, Twilio's) never waits on a slow client:
`request.read()` keeps the body for it. A body that has not arrived after a moment needs one of
BATON_MAX_SLOW_READERS slots; with none free it is answered 503 at once, so slow clients
cannot hold every connection the server can take.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["QUICK_READ", "install"]

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

QUICK_READ = 0.5
"""Seconds a body may take without a slow reader's slot (most arrive with their headers)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, *, read_timeout: float, max_slow_readers: int) -> None:
    """Add the headers and the body deadline to `app` (before it starts)."""
    app.on_response_prepare.append(_headers)
    app.middlewares.append(_body_deadline(read_timeout, max_slow_readers))


async def _headers(_: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def _body_deadline(timeout: float, slots: int) -> Middleware:
    readers = asyncio.Semaphore(slots)

    @web.middleware
    async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists or request.content.is_eof():
            return await handler(request)
        reading = asyncio.ensure_future(request.read())
        try:
            done, _ = await asyncio.wait({reading}, timeout=min(QUICK_READ, timeout))
            if not done:
                if readers.locked():
                    return await _cut_off(request, 503, "too many slow requests; try again")
                async with readers:
                    done, _ = await asyncio.wait({reading}, timeout=max(0.0, timeout - QUICK_READ))
                if not done:
                    return await _cut_off(request, 408, "the request body came too slowly")
            await reading  # raises what reading raised (413 for a body too large)
        finally:
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(BaseException):
                    await reading
        return await handler(request)

    return body_deadline


async def _cut_off(request: web.Request, status: int, reason: str) -> web.StreamResponse:
    """Answer `status` and close the connection (no reading the rest of the body first)."""
    response = web.Response(status=status, text=reason, headers={"Connection": "close"})
    if status == 503:
        response.headers["Retry-After"] = "1"
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    protocol = request.protocol
    if protocol is not None:
        protocol.force_close()
    return response
