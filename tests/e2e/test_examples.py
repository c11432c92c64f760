"""The examples a developer copies from work as their docstrings say."""

from __future__ import annotations

from examples.order_help import app
from tests.support.baton import running_baton
from tests.support.webchat import WebChat


async def test_order_help_example(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("where is my order")
        await chat.expect("Hi! What's your name?")
        await chat.send("Ada")
        await chat.expect("Thanks, Ada. What's your order number?")
        await chat.send("12")
        await chat.expect("Order numbers have 8 digits, like 1234 5678.")
        await chat.send("1234 5678")
        await chat.expect("Order 12345678 is on its way. What would you like?")
        await chat.send(choice="agent")
        await chat.next()
        identity = await baton.store.identity("web", chat.identity)
        assert identity is not None
        assert (await baton.store.conversation(identity[1]))["status"] == "waiting"
