"""Live updates for the console over a WebSocket at /api/live.

The handshake needs a logged-in session (or an API token) and, from a browser, an `Origin`
the server trusts: a page on another site cannot open it with the agent's cookie (no
cross-site WebSocket hijacking).

The server only says *what* changed: `{"type": "queue"}` or `{"type": "conversation",
"id": 12}`; the page then fetches it through the JSON API, which checks permissions as
always. Changes are found by watching the database (new handoff events and messages, and the
delivery statuses of the conversations being looked at), so an update made by another Baton
process reaches every console too. Work in this process wakes the watcher at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from adapters.body import json_too_deep
from bot.console.auth import Principal, allowed_origins, authenticate, fail
from bot.console.policy import can_see

if TYPE_CHECKING:
    from bot.console.core import Console

log = logging.getLogger("baton.console")

__all__ = ["Hub", "routes"]

_POLL = 1.0
_LOOKBACK = 500  # ids re-read each time: a transaction may commit a lower id after a higher
_REVALIDATE_EVERY = 30  # polls between checks that each socket's session still exists
_CLOSE_LOGGED_OUT = 4401


@dataclass(eq=False)
class Client:
    """One open console page."""

    ws: web.WebSocketResponse
    principal: Principal
    watching: int | None = None

    @property
    def session_id(self) -> str | None:
        """The session the socket was opened with (None for an API token)."""
        return self.principal.session.id if self.principal.session else None


class Hub:
    """Watches for changes and tells each open console page what it may see changed."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.clients: set[Client] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._events_low = 0
        self._messages_low = 0
        self._seen_events: set[int] = set()
        self._seen_messages: set[int] = set()
        self._marks: dict[int, tuple[Any, ...]] = {}
        self._polls = 0
        self._closing: set[asyncio.Task[bool]] = set()

    def kick(self) -> None:
        """Something changed in this process: look now."""
        self._wake.set()

    async def start(self) -> None:
        """Start watching (from the newest event and message)."""
        events, messages = await self.console.db.heads()
        self._events_low, self._messages_low = events, messages
        self._task = asyncio.get_running_loop().create_task(self._run(), name="baton-live")

    async def stop(self) -> None:
        """Stop watching and close every socket."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"Baton is stopping")
        self.clients.clear()

    def session_ended(self, session_id: str) -> None:
        """Close the sockets of a session that ended (logout, expiry)."""
        for client in list(self.clients):
            if client.session_id == session_id:
                self._close(client)

    def _close(self, client: Client) -> None:
        self.clients.discard(client)
        task = asyncio.get_running_loop().create_task(
            client.ws.close(code=_CLOSE_LOGGED_OUT, message=b"logged out")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as the event is set, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_POLL):
                    await self._wake.wait()
            self._wake.clear()
            if not self.clients:
                continue
            try:
                await self.poll()
            except Exception:
                log.exception("live updates: looking for changes failed")

    async def poll(self) -> None:
        """Find what changed since the last look and tell the pages that may see it."""
        db = self.console.db
        events, messages = await db.changes(self._events_low, self._messages_low)
        changed: set[int] = set()
        queue = False
        for event_id, conversation_id in events:
            if event_id not in self._seen_events:
                self._seen_events.add(event_id)
                changed.add(conversation_id)
                queue = True
        for message_id, conversation_id in messages:
            if message_id not in self._seen_messages:
                self._seen_messages.add(message_id)
                changed.add(conversation_id)
        self._events_low = _advance(self._seen_events, self._events_low)
        self._messages_low = _advance(self._seen_messages, self._messages_low)
        watched = {c.watching for c in self.clients if c.watching is not None}
        for conversation_id, mark in (await db.delivery_marks(list(watched))).items():
            if self._marks.get(conversation_id, mark) != mark:
                changed.add(conversation_id)
            self._marks[conversation_id] = mark
        for gone in set(self._marks) - watched:
            del self._marks[gone]
        self._polls += 1
        if self._polls % _REVALIDATE_EVERY == 0:
            await self._revalidate()
        if not changed:
            return
        accesses = await db.accesses(list(changed))
        open_changed = queue or any(a.handoff_id is not None for a in accesses.values())
        for client in list(self.clients):
            agent = client.principal.agent
            visible = sorted(
                c
                for c in changed
                if c == client.watching or can_see(accesses.get(c), agent.id, admin=agent.admin)
            )
            for conversation_id in visible:
                await self._send(client, {"type": "conversation", "id": conversation_id})
            if open_changed:
                await self._send(client, {"type": "queue"})

    async def _revalidate(self) -> None:
        for client in list(self.clients):
            sid = client.session_id
            if sid is not None and await self.console.db.session(sid) is None:
                self._close(client)

    async def _send(self, client: Client, message: dict[str, Any]) -> None:
        if client.ws.closed:
            self.clients.discard(client)
            return
        try:
            await client.ws.send_str(json.dumps(message))
        except (ConnectionError, RuntimeError):
            self.clients.discard(client)


def _advance(seen: set[int], low: int) -> int:
    """Keep a window of recent ids; the next read starts `_LOOKBACK` below the newest."""
    if not seen:
        return low
    newest = max(seen)
    floor = newest - _LOOKBACK
    for old in [i for i in seen if i <= floor]:
        seen.discard(old)
    return max(low, floor)


async def _live(request: web.Request) -> web.StreamResponse:
    from bot.console.core import CONSOLE

    console = request.app[CONSOLE]
    if "Authorization" not in request.headers:
        # A cookie is sent by the browser on any page's behalf: only trusted pages may use it.
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed_origins(console, request):
            fail(403, "bad_origin", "this page may not open Baton's live updates")
    principal = await authenticate(console, request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    client = Client(ws, principal)
    console.hub.clients.add(client)
    try:
        await ws.send_str(json.dumps({"type": "hello", "agent": principal.agent.id}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if json_too_deep(msg.data):  # json.loads would raise RecursionError
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") == "watch":
                await _watch(console, client, data.get("id"))
    finally:
        console.hub.clients.discard(client)
    return ws


async def _watch(console: Console, client: Client, conversation_id: Any) -> None:
    if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
        client.watching = None
        return
    agent = client.principal.agent
    access = await console.db.access(conversation_id)
    client.watching = conversation_id if can_see(access, agent.id, admin=agent.admin) else None
    console.hub.kick()


def routes() -> list[web.RouteDef]:
    """The WebSocket route."""
    return [web.get("/api/live", _live)]
