"""Helpers for the console's tests: agents, a customer on the web channel, the handoff service."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from bot.console.auth import hash_password
from bot.console.core import CONSOLE, Console
from bot.engine import Engine
from bot.engine.builder import EngineBuilder
from bot.engine.pipeline import Next, Slot, StatusChanged, Turn
from bot.handoff import Handoffs, involves_people
from dialogs import Texts
from storage import AgentRow, OutboxRow
from tests.support.baton import Running
from tests.support.webchat import WebChat

TEXTS = Texts()
PASSWORD = "correct horse battery staple"


def console_of(baton: Running) -> Console:
    return baton.app[CONSOLE]


def handoffs_of(baton: Running) -> Handoffs:
    return console_of(baton).handoffs


async def add_agent(
    baton: Running, email: str, name: str, role: str = "agent", password: str = PASSWORD
) -> AgentRow:
    return await console_of(baton).db.add_agent(email, name, role, hash_password(password))


async def customer_ids(baton: Running, chat: WebChat) -> tuple[int, int]:
    """(customer id, conversation id) of a web-chat customer."""
    found = await baton.store.identity("web", chat.identity)
    assert found is not None
    conversation = await baton.store.conversation(found[1])
    return found[1], int(conversation["id"])


async def status(baton: Running, customer_id: int) -> str:
    return str((await baton.store.conversation(customer_id))["status"])


async def settled(baton: Running) -> None:
    await asyncio.wait_for(baton.engine.idle(), 10)


class HeldCommits:
    """A feature that pauses the turns that involve people just before they commit, so a
    test can make an agent act in between (the race a customer message and an agent's click
    can have). Its stage runs in the `compose` slot, after the flows and before the
    handoff's guarded commit, once `armed`; its wrapper records each held turn's outbox rows
    in `results`, or None where the commit lost to a change of status."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.results: list[list[OutboxRow] | None] = []
        self._holding = False

    def install(self, builder: EngineBuilder) -> None:
        builder.stage(Slot.COMPOSE, self.hold)
        builder.around(self.record)

    async def start(self, engine: Engine) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def hold(self, turn: Turn) -> None:
        if not self.armed or turn.outcome is None or not involves_people(turn.before, turn.after):
            return
        self._holding = True
        if not self.results:  # hold only the first attempt
            self.reached.set()
            await self.release.wait()

    async def record(self, turn: Turn, run: Next) -> None:
        self._holding = False
        try:
            await run()
        except StatusChanged:
            if self._holding:
                self.results.append(None)
            raise
        if self._holding:
            self.results.append(turn.outbox)


class Browser:
    """An agent's browser against a running Baton: keeps the session cookie (sent by hand, as
    a browser does for a Secure cookie on loopback) and the CSRF token."""

    def __init__(self, baton: Running) -> None:
        import aiohttp

        self.baton = baton
        self.origin = baton.url("/").rstrip("/")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.set_cookie: str = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    def headers(self, *, csrf: bool = True, origin: str | None = "self") -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.cookie is not None:
            headers["Cookie"] = f"__Host-baton_session={self.cookie}"
        if csrf and self.csrf is not None:
            headers["X-CSRF-Token"] = self.csrf
        if origin is not None:
            headers["Origin"] = self.origin if origin == "self" else origin
        return headers

    async def login(self, email: str, password: str = PASSWORD) -> tuple[int, Any]:
        status, body = await self.request(
            "POST", "/api/session", {"email": email, "password": password}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status, body

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        csrf: bool = True,
        origin: str | None = "self",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = self.headers(csrf=csrf, origin=origin) | (headers or {})
        async with self.http.request(
            method, self.baton.url(path), json=json, headers=all_headers
        ) as response:
            cookies = response.headers.getall("Set-Cookie", [])
            for header in cookies:
                self.set_cookie = header
                name, _, rest = header.partition("=")
                if name == "__Host-baton_session":
                    value = rest.split(";", 1)[0]
                    self.cookie = value or None
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def send_raw(
        self, path: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """POST `body` exactly as given (any bytes a client could send), as this browser."""
        headers = self.headers() | {"Content-Type": content_type}
        async with self.http.post(
            self.baton.url(path), data=io.BytesIO(body), headers=headers
        ) as response:
            body_of = (
                await response.json() if response.content_type == "application/json" else None
            )
            return response.status, body_of

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", path)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.request("POST", path, json, **kw)
