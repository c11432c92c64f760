"""The follow-up guide's code (docs/guides/follow-up.md includes it from here and from
examples/follow_up.py): each test runs what the page shows, through the test kit and the
platforms' emulators, on a real engine and database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpServer

from bot.app import STORE, create_app

# --8<-- [start:import-listeners]
from bot.followup import EventRecord, Listeners

# --8<-- [end:import-listeners]
# isort: split
# --8<-- [start:import-verify]
from bot.followup import SIGNATURE_HEADER, verify

# --8<-- [end:import-verify]
from bot.settings import Settings
from bot.testing import ChatScript, chat_on
from dialogs import App, Context, Keyword, Texts, flow
from examples.follow_up import app as follow_up_app
from storage import FollowupStore
from tests.console.support import add_agent, handoffs_of

TEXTS = Texts()
SECRET = "a-long-random-secret-for-tests"


@flow(triggers=[Keyword("hello")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


@flow()
async def parcel_news(ctx: Context) -> None:
    await ctx.say(f"Your parcel {ctx.args['parcel']} has shipped.")


APP = App(flows=[hello, parcel_news])


def _db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"


async def _resolve(chat: ChatScript) -> int:
    """The customer asks for a person; an agent claims and resolves; the conversation id."""
    await chat.send("agent")
    await chat.expect(TEXTS.human_waiting)
    conversation = await chat.conversation()
    grace = await add_agent(chat.baton, "grace@example.com", "Grace")
    row = await chat.baton.store.conversation(conversation.customer_id)
    handoffs = handoffs_of(chat.baton)
    await handoffs.claim(int(row["id"]), conversation.customer_id, grace)
    await handoffs.resolve(int(row["id"]), conversation.customer_id, grace, seen=None)
    return int(row["id"])


@pytest.mark.parametrize("channel", ["telegram", "twilio"])
async def test_start_flow_starts_a_flow_for_a_customer_once(channel: str, tmp_path: Path) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path)) as chat:
        await chat.send("hello")
        await chat.expect("Hello!")
        customer_id = (await chat.conversation()).customer_id
        engine = chat.baton.engine
        # --8<-- [start:start-flow]
        scheduled = await engine.start_flow(
            customer_id,
            "parcel_news",  # a flow registered in the App, by name
            at=None,  # now; or an aware datetime / seconds since the epoch
            key="parcel:AB12:shipped",  # optional: the same key never starts it twice
            parcel="AB12",  # JSON arguments: ctx.args["parcel"] in the flow
        )
        # --8<-- [end:start-flow]
        assert scheduled
        again = await engine.start_flow(
            customer_id, "parcel_news", key="parcel:AB12:shipped", parcel="AB12"
        )
        assert not again  # the key was used
        await chat.expect("Your parcel AB12 has shipped.")
        await chat.baton.settle()
        await chat.expect_no_reply()
        with pytest.raises(LookupError):
            await engine.start_flow(customer_id, "no_such_flow")
        with pytest.raises(LookupError):
            await engine.start_flow(999_999, "parcel_news", parcel="AB12")
        with pytest.raises(TypeError):
            await engine.start_flow(customer_id, "parcel_news", parcel=object())


class FakeCRM:
    """The CRM the page's listener tells: records the tickets it closes."""

    def __init__(self) -> None:
        self.closed: list[tuple[int, int, int]] = []

    async def close(self, customer_id: int, *, conversation: int, key: int) -> None:
        self.closed.append((customer_id, conversation, key))


crm = FakeCRM()

# --8<-- [start:listeners]
listeners = Listeners()


@listeners.on("conversation.resolved")
async def close_ticket(event: EventRecord) -> None:
    await crm.close(event.customer_id, conversation=event.data["conversation_id"], key=event.id)


@listeners.on("handoff.*", name="handoff-audit")  # a pattern; name= keeps its marks stable
async def audit(event: EventRecord) -> None: ...


# --8<-- [end:listeners]


async def _delivered(baton_store: Any, target: str, count: int) -> list[dict[str, Any]]:
    store = FollowupStore(baton_store)
    async with asyncio.timeout(10):
        while True:
            log = await store.deliveries(target=target)
            if len([d for d in log if d["status"] == "delivered"]) >= count:
                return log
            await asyncio.sleep(0.05)


async def test_the_listeners_hear_of_a_resolution(tmp_path: Path) -> None:
    crm.closed.clear()
    async with chat_on(
        "slack", APP, database_url=_db(tmp_path), features=[listeners], survey_after="none"
    ) as chat:
        conversation_id = await _resolve(chat)
        await chat.baton.settle()
        customer_id = (await chat.conversation()).customer_id
        (closed,) = crm.closed
        assert closed[:2] == (customer_id, conversation_id)
        resolved = await FollowupStore(chat.baton.store).deliveries(
            target=f"listener:{close_ticket.__module__}.close_ticket"
        )
        assert [(d["status"], d["event_id"]) for d in resolved] == [("delivered", closed[2])]
        audited = await FollowupStore(chat.baton.store).deliveries(target="listener:handoff-audit")
        assert {d["status"] for d in audited} == {"delivered"}
        assert len(audited) >= 2  # handoff.started, handoff.claimed


async def test_create_app_takes_the_listeners(tmp_path: Path) -> None:
    settings = Settings(database_url=_db(tmp_path), gc_freeze=False, survey_after="none")
    app = APP
    # --8<-- [start:create-app]
    web_app = await create_app(
        settings, app, features=[listeners]
    )  # or running_baton(..., features=[listeners])
    # --8<-- [end:create-app]
    async with TestClient(TestServer(web_app)) as client:  # a customer on the web chat
        await client.get("/chat")  # the chat's session cookie
        await client.post("/chat/api/messages", json={"text": "agent"})
        log = await _delivered(web_app[STORE], "listener:handoff-audit", 1)
    assert [d["status"] for d in log] == ["delivered"]  # handoff.started


async def test_a_flow_starts_when_an_agent_resolves(tmp_path: Path) -> None:
    async with chat_on(
        "twilio", follow_up_app, database_url=_db(tmp_path), survey_after="none"
    ) as chat:
        await _resolve(chat)
        await chat.baton.settle()
        replies = [reply.text for reply in await chat.read_all()]  # the queue notice, ...
        assert replies[-1] == "Tip: say 'replacement' any time something arrives broken."


received: list[dict[str, Any]] = []
deliveries: list[str] = []


async def handle(event: dict[str, Any], *, delivery: str) -> None:
    """The receiver's own work: here, keep what arrived."""
    received.append(event)
    deliveries.append(delivery)


# --8<-- [start:receive]
async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    if not verify(SECRET, body, request.headers.get(SIGNATURE_HEADER, "")):
        return web.Response(status=401)
    event = json.loads(body)  # id, name, customer_id, data, created_at
    await handle(event, delivery=request.headers["Baton-Delivery"])  # yours
    return web.Response()  # 2xx: delivered


# --8<-- [end:receive]


async def test_the_receiver_checks_the_signature(
    tmp_path: Path, aiohttp_server: AiohttpServer
) -> None:
    received.clear()
    deliveries.clear()
    receiver = web.Application()
    receiver.router.add_post("/baton", receive)
    server = await aiohttp_server(receiver)
    url = str(server.make_url("/baton"))
    async with chat_on(
        "telegram",
        APP,
        database_url=_db(tmp_path),
        webhook_urls=[url],
        webhook_secret=SECRET,
        webhook_events=["conversation.*"],
        survey_after="none",
    ) as chat:
        conversation_id = await _resolve(chat)
        log = await _delivered(chat.baton.store, f"webhook:{url}", 1)
    assert [(d["status"], d["response_status"]) for d in log] == [("delivered", 200)]
    (event,) = received
    assert event["name"] == "conversation.resolved"
    assert event["data"]["conversation_id"] == conversation_id
    assert deliveries == [str(log[0]["id"])]
    async with ClientSession() as session:  # a forged request is refused
        forged = {SIGNATURE_HEADER: "t=1,v1=00"}
        async with session.post(url, data=b"{}", headers=forged) as answer:
            assert answer.status == 401
    assert len(received) == 1
