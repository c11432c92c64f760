from __future__ import annotations

from bot.demo import app
from tests.support.baton import running_baton
from tests.support.webchat import WebChat


async def test_demo_greets_on_the_web_channel(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("hi")
        reply = await chat.expect("Hi! I'm the Baton demo bot. What can I help you with?")
        assert reply.choices[0] == ("order", "Where is my order?")
