"""Drive the local web channel like a customer: send, then await replies."""

from __future__ import annotations

import uuid

from adapters.base import Inbound
from adapters.web import LocalAdapter, Reply
from bot.engine import Engine


class WebChat:
    """One customer on the local "web" channel, talking to a running engine."""

    def __init__(self, engine: Engine, adapter: LocalAdapter, identity: str = "customer-1"):
        self.engine = engine
        self.adapter = adapter
        self.identity = identity
        self.seen = 0

    async def send(
        self, text: str | None = None, *, choice: str | None = None, message_id: str | None = None
    ) -> bool:
        message = Inbound(
            self.adapter.channel,
            message_id or uuid.uuid4().hex,
            self.identity,
            text=text,
            choice=choice,
        )
        accepted = await self.engine.receive([message])
        return accepted[0]

    async def expect(self, text: str, timeout: float = 10.0) -> Reply:
        """Await the next reply and check its text."""
        replies = await self.adapter.wait(self.identity, self.seen, timeout)
        assert replies, f"no reply within {timeout}s; expected {text!r}"
        reply = replies[0]
        self.seen = reply.seq
        assert reply.text == text
        return reply

    async def next(self, timeout: float = 10.0) -> Reply:
        replies = await self.adapter.wait(self.identity, self.seen, timeout)
        assert replies, f"no reply within {timeout}s"
        self.seen = replies[0].seq
        return replies[0]
