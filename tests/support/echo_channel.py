"""A picklable channel for the send-process tests (`BATON_SEND_PROCESSES`): light to import,
since a child process unpickles it."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterable
from typing import ClassVar

from aiohttp import web

from adapters.base import Address, Limits, Prompt, Rendered, Sent, Sink
from adapters.errors import RateLimited, SendError, Unreachable


class EchoChannel:
    """A picklable channel whose sends answer with the sending process's id, or fail (or
    report) as the recipient's name says."""

    channel: ClassVar[str] = "echo"
    limits: ClassVar[Limits] = Limits(max_text=1000, max_choices=10, buttons=True)

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        return ()

    async def start(self) -> None:
        return None

    def render(self, prompt: Prompt) -> Rendered:
        return Rendered(({"text": prompt.text, "extra": {"nested": [1, None, True]}},))

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        who = to.identity
        if who == "limited":
            raise RateLimited("Too Many Requests", retry_after=2.5)
        if who == "blocked":
            raise Unreachable("Forbidden: bot was blocked by the user", code="blocked")
        if who == "permanent":
            raise SendError("message is too long", retryable=False, code="400")
        if who == "boom":
            raise ValueError("boom")
        if who == "slow":
            await asyncio.sleep(3600)
        if who == "loop":  # the sending process's event loop
            return Sent((type(asyncio.get_running_loop()).__module__,))
        if who == "gc":  # how the sending process's garbage collector is set up
            return Sent((f"frozen={gc.get_freeze_count()} threshold={gc.get_threshold()[0]}",))
        assert rendered.parts[0]["extra"] == {"nested": [1, None, True]}
        return Sent(tuple(f"{os.getpid()}:{to.route}:{p['text']}" for p in rendered.parts))

    async def aclose(self) -> None:
        return None
