"""A scriptable stand-in for a remote platform, at the adapter seam.

It behaves like a platform that answers each send with a result you queue: success, 429 with a
retry-after, a transient error, a permanent error, or a hang. Used to test the engine's
outbox; the real adapters are tested against the platform emulators in tests/e2e.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from aiohttp import web

from adapters.base import Address, Limits, Prompt, Rendered, Sent, Sink
from adapters.errors import RateLimited, SendError, Unreachable


class ScriptedChannel:
    """A channel named "scripted" whose sends fail as scripted, then succeed."""

    channel: ClassVar[str] = "scripted"
    limits: ClassVar[Limits] = Limits(max_text=1000, max_choices=10, buttons=True)

    def __init__(self) -> None:
        self.script: deque[str | float] = deque()
        self.attempts: list[str] = []
        self.delivered: list[tuple[str, str]] = []
        self._changed = asyncio.Condition()
        self.release = asyncio.Event()

    def then(self, *outcomes: str | float) -> ScriptedChannel:
        """Queue outcomes: "ok", "500", "permanent", "blocked", "hang", or a float = 429 wait."""
        self.script.extend(outcomes)
        return self

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        return ()

    async def start(self) -> None:
        return None

    def render(self, prompt: Prompt) -> Rendered:
        return Rendered(({"text": prompt.text},))

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        text = str(rendered.parts[0]["text"])
        outcome = self.script.popleft() if self.script else "ok"
        async with self._changed:
            self.attempts.append(text)
            self._changed.notify_all()
        if isinstance(outcome, float):
            raise RateLimited("Too Many Requests", retry_after=outcome)
        if outcome == "500":
            raise SendError("server error 500", retryable=True)
        if outcome == "permanent":
            raise SendError("bad request: message is too long", retryable=False)
        if outcome == "blocked":
            raise Unreachable("Forbidden: bot was blocked by the user", code="blocked")
        if outcome == "hang":
            await self.release.wait()
        async with self._changed:
            self.delivered.append((to.identity, text))
            self._changed.notify_all()
        return Sent((f"s{len(self.delivered)}",))

    async def wait_delivered(self, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.delivered) >= count), timeout
            )
        return list(self.delivered)

    async def wait_attempts(self, count: int, timeout: float = 10.0) -> list[str]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.attempts) >= count), timeout
            )
        return list(self.attempts)

    async def aclose(self) -> None:
        self.release.set()
