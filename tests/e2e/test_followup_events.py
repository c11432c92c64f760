"""Durable events for app code: a Python listener that fails is tried again and runs once
(also across a restart); a signed webhook reaches a local receiver and is retried after a 500;
a flow with an `Event` trigger starts when its event happens."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from adapters.base import Inbound
from bot.followup import SIGNATURE_HEADER, EventRecord, Listeners, verify
from bot.testing import ChatScript, chat_on, chat_with_restarts
from dialogs import App, Context, Event, Keyword, Texts, flow
from storage import FollowupStore
from tests.console.support import add_agent, handoffs_of
from tests.support.baton import running_baton
from tests.support.channels import ScriptedChannel
from tests.support.databases import fresh_database

TEXTS = Texts()
SECRET = "webhook-secret-for-tests"


@flow(triggers=[Keyword("hello")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


@flow(triggers=[Event("resolved")])
async def after_resolution(ctx: Context) -> None:
    assert ctx.event is not None
    await ctx.say(f"Glad we could help! ({ctx.event['name']})")


APP = App(flows=[hello])


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


async def test_a_failing_listener_is_retried_and_runs_once_across_a_restart(
    tmp_path: Path,
) -> None:
    calls: list[EventRecord] = []
    done = asyncio.Event()
    listeners = Listeners()

    @listeners.on("handoff.*", name="crm")
    async def crm(event: EventRecord) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("the CRM is down")
        done.set()

    async with chat_with_restarts(
        "twilio",
        APP,
        database_url=_db(tmp_path),
        features=[listeners],
        event_base_delay=0.05,
        survey_after="none",
    ) as session:
        chat = session.chat
        assert chat is not None
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        async with asyncio.timeout(10):
            await done.wait()
        assert len(calls) == 2
        assert calls[0].id == calls[1].id
        assert calls[1].name == "handoff.started"
        assert calls[1].data["reason"] == "customer asked for a person"
        log = await FollowupStore(chat.baton.store).deliveries(target="listener:crm")
        assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 2)]
        assert "the CRM is down" not in str(log[0]["last_error"])  # cleared once delivered

        await chat.read_all()  # the queue notice

        chat = await session.restart()
        await chat.send("never mind")
        await chat.expect(TEXTS.no_longer_waiting)
        await chat.baton.settle()
        # Delivered before the restart: never run again; the next event is delivered.
        assert [c.name for c in calls] == [
            "handoff.started",
            "handoff.started",
            "handoff.cancelled",
        ]


async def test_a_signed_webhook_arrives_and_is_retried_after_a_500(
    tmp_path: Path, aiohttp_server: AiohttpServer
) -> None:
    received: list[tuple[int, dict[str, object], bool]] = []
    delivered = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        signed = verify(SECRET, body, request.headers.get(SIGNATURE_HEADER, ""))
        event = json.loads(body)
        answer = 500 if not received else 200
        received.append((answer, event, signed))
        if answer == 200 and event["name"] == "conversation.resolved":
            delivered.set()
        return web.Response(status=answer)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    server = await aiohttp_server(receiver)
    url = str(server.make_url("/hook"))

    async with chat_on(
        "telegram",
        APP,
        database_url=_db(tmp_path),
        webhook_urls=[url],
        webhook_secret=SECRET,
        webhook_events=["conversation.resolved"],
        event_base_delay=0.05,
        survey_after="none",
    ) as chat:
        conversation_id = await _resolve(chat)
        async with asyncio.timeout(10):
            await delivered.wait()
        await chat.baton.settle()
        assert [(answer, signed) for answer, _, signed in received] == [(500, True), (200, True)]
        event = received[-1][1]
        assert event["name"] == "conversation.resolved"
        assert event["data"]["conversation_id"] == conversation_id  # type: ignore[index]
        assert received[0][1]["id"] == event["id"]  # the same event, tried again
        log = await FollowupStore(chat.baton.store).deliveries(target=f"webhook:{url}")
        assert [(d["status"], d["attempts"], d["response_status"]) for d in log] == [
            ("delivered", 2, 200)
        ]


def test_a_forged_or_stale_signature_does_not_verify() -> None:
    from bot.followup import sign

    body = b'{"name":"conversation.resolved"}'
    header = sign(SECRET, body, timestamp=1_000_000)
    assert verify(SECRET, body, header, now=1_000_010)
    assert not verify(SECRET, body + b" ", header, now=1_000_010)  # body changed
    assert not verify("another secret", body, header, now=1_000_010)
    assert not verify(SECRET, body, header, now=1_000_000 + 301)  # replayed later
    assert not verify(SECRET, body, "t=abc,v1=00", now=1_000_010)
    assert not verify(SECRET, body, "", now=1_000_010)


@pytest.mark.parametrize("channel", ["slack"])
async def test_a_flow_with_an_event_trigger_starts_when_its_event_happens(
    channel: str, tmp_path: Path
) -> None:
    app = App(flows=[hello, after_resolution])
    async with chat_on(channel, app, database_url=_db(tmp_path), survey_after="none") as chat:
        await _resolve(chat)
        await chat.baton.settle()
        heard = [reply.text for reply in await chat.read_all()]
        assert heard[-2:] == [TEXTS.resolved, "Glad we could help! (conversation.resolved)"]
        await chat.send("hello")
        await chat.expect("Hello!")


async def test_a_reply_that_cannot_be_delivered_is_a_message_failed_event(
    tmp_path: Path,
) -> None:
    failed: list[EventRecord] = []
    told = asyncio.Event()
    listeners = Listeners()

    @listeners.on("message.failed")
    async def alert(event: EventRecord) -> None:
        failed.append(event)
        told.set()

    async with chat_on(
        "telegram",
        APP,
        database_url=_db(tmp_path),
        features=[listeners],
        outbox_max_attempts=1,
    ) as chat:
        chat.emulator.fail_next(1, status=500, method="sendMessage")
        await chat.send("hello")
        async with asyncio.timeout(10):
            await told.wait()
        [event] = failed
        assert event.data["channel"] == "telegram"
        assert event.customer_id == (await chat.conversation()).customer_id


async def test_two_engines_on_postgresql_deliver_each_event_once(tmp_path: Path) -> None:
    seen: list[int] = []
    listeners = Listeners()

    @listeners.on("order.*", name="count")
    async def count(event: EventRecord) -> None:
        seen.append(event.id)

    @flow(triggers=[Keyword("order")])
    async def order(ctx: Context) -> None:
        await ctx.emit("order.placed", {"n": ctx.trigger.text})
        await ctx.say("Ordered.")

    app = App(flows=[order])
    async with fresh_database("postgresql", tmp_path) as url:
        one, two = ScriptedChannel(), ScriptedChannel()
        async with (
            running_baton(url, app, adapters=[one], features=[listeners]) as a,
            running_baton(url, app, adapters=[two], features=[listeners]) as b,
        ):
            for n in range(10):
                engine = (a, b)[n % 2].engine
                message = Inbound("scripted", uuid.uuid4().hex, f"c{n % 3}", text=f"order {n}")
                await engine.receive([message])
            for _ in range(5):  # both look at once, several times over
                await asyncio.gather(a.settle(), b.settle())
    assert len(seen) == 10
    assert len(set(seen)) == 10
