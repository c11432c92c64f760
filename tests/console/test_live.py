"""Live updates over the WebSocket: the session and a trusted Origin are required; a new
customer message, a queue change and a delivery status reach the agent without reloading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bot.demo import app
from tests.console.support import TEXTS, Browser, add_agent, customer_ids
from tests.support.baton import Running, running_baton
from tests.support.webchat import WebChat


async def connect(
    baton: Running, browser: Browser, *, origin: str | None = "self"
) -> aiohttp.ClientWebSocketResponse:
    headers = browser.headers(csrf=False, origin=origin)
    return await browser.http.ws_connect(baton.url("/api/live"), headers=headers)


async def next_event(ws: aiohttp.ClientWebSocketResponse, wanted: dict[str, Any]) -> None:
    """Read events until `wanted` arrives (each read bounded; no sleeping)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if json.loads(msg.data) == wanted:
            return


async def refreshed_until(
    ws: aiohttp.ClientWebSocketResponse,
    wanted: dict[str, Any],
    fetch: Callable[[], Awaitable[bool]],
) -> None:
    """As the console does: on each `wanted` event fetch again, until `fetch` sees the change."""
    while True:
        await next_event(ws, wanted)
        if await fetch():
            return


async def test_the_socket_needs_a_session_and_a_trusted_origin(database_url: str) -> None:
    async with running_baton(database_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        statuses = {}
        with pytest.raises(aiohttp.WSServerHandshakeError) as no_session:
            await connect(baton, browser)
        statuses["no session"] = no_session.value.status
        await browser.login("grace@example.com")
        for name, origin in (("other site", "https://evil.example"), ("no origin", None)):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await connect(baton, browser, origin=origin)
            statuses[name] = refused.value.status
        ws = await connect(baton, browser)
        hello = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        await ws.close()
    assert statuses == {"no session": 401, "other site": 403, "no origin": 403}
    assert hello["type"] == "hello"


async def test_customer_messages_queue_changes_and_deliveries_arrive_live(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton, Browser(baton) as grace:
        await add_agent(baton, "grace@example.com", "Grace")
        await grace.login("grace@example.com")
        ws = await connect(baton, grace)
        await next_event(ws, {"type": "hello", "agent": 1})
        chat = WebChat(baton.engine, baton.web)
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        await next_event(ws, {"type": "queue"})
        _, conversation = await customer_ids(baton, chat)
        await grace.post(f"/api/conversations/{conversation}/claim")
        await ws.send_str(json.dumps({"type": "watch", "id": conversation}))
        await next_event(ws, {"type": "conversation", "id": conversation})
        await chat.send("are you there?")
        changed = {"type": "conversation", "id": conversation}
        path = f"/api/conversations/{conversation}/messages"

        async def last_message() -> dict[str, Any]:
            _, body = await grace.get(path)
            return dict(body["messages"][-1])

        async def customer_wrote() -> bool:
            return bool((await last_message())["text"] == "are you there?")

        await refreshed_until(ws, changed, customer_wrote)
        await grace.post(path, {"text": "Yes!"})

        async def delivered() -> bool:
            last = await last_message()
            return bool(last["text"] == "Yes!" and last["delivery_status"] == "sent")

        await refreshed_until(ws, changed, delivered)
        await ws.close()


async def test_logging_out_closes_the_socket(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as grace:
        await add_agent(baton, "grace@example.com", "Grace")
        await grace.login("grace@example.com")
        ws = await connect(baton, grace)
        await next_event(ws, {"type": "hello", "agent": 1})
        await grace.request("DELETE", "/api/session")
        msg = await asyncio.wait_for(ws.receive(), 10)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == 4401


async def test_an_agent_is_not_told_about_another_agents_conversation(sqlite_url: str) -> None:
    async with (
        running_baton(sqlite_url, app) as baton,
        Browser(baton) as grace,
        Browser(baton) as alan,
    ):
        await add_agent(baton, "grace@example.com", "Grace")
        await add_agent(baton, "alan@example.com", "Alan")
        await grace.login("grace@example.com")
        await alan.login("alan@example.com")
        chat = WebChat(baton.engine, baton.web)
        await chat.send("agent")
        await chat.next()
        _, conversation = await customer_ids(baton, chat)
        await grace.post(f"/api/conversations/{conversation}/claim")
        await baton.engine.idle()
        ws = await connect(baton, alan)
        await next_event(ws, {"type": "hello", "agent": 2})
        await ws.send_str(json.dumps({"type": "watch", "id": conversation}))  # a guess
        await chat.send("my card number is 4111...")
        await baton.engine.idle()
        other = WebChat(baton.engine, baton.web, "other")
        await other.send("agent")
        await baton.engine.idle()
        seen: list[Any] = []
        while True:  # until the queue update that shows the other customer
            msg = await asyncio.wait_for(ws.receive(), 10)
            seen.append(json.loads(msg.data))
            if seen[-1] == {"type": "queue"}:
                _, listing = await alan.get("/api/conversations")
                if listing["items"]:
                    break
        await ws.close()
    assert {"type": "conversation", "id": conversation} not in seen


async def test_deeply_nested_json_on_the_socket_is_ignored_and_it_keeps_working(
    sqlite_url: str,
) -> None:
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as grace:
        await add_agent(baton, "grace@example.com", "Grace")
        await grace.login("grace@example.com")
        ws = await connect(baton, grace)
        await next_event(ws, {"type": "hello", "agent": 1})
        chat = WebChat(baton.engine, baton.web)
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        await next_event(ws, {"type": "queue"})
        _, conversation = await customer_ids(baton, chat)
        await grace.post(f"/api/conversations/{conversation}/claim")
        await ws.send_str("[" * 2000 + "]" * 2000)  # within the 4 KiB a message may have
        await ws.send_str('{"type": "watch", "id": ' + "[" * 1500 + "]" * 1500 + "}")
        await ws.send_str(json.dumps({"type": "watch", "id": conversation}))
        await next_event(ws, {"type": "conversation", "id": conversation})
        await ws.close()
