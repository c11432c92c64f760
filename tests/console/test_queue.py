"""What a waiting customer is told as the queue moves, outside business hours, and the
reply-by promise with its breaches. The clock is the test's: no sleeping."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from bot.demo import app
from tests.console.support import TEXTS, add_agent, customer_ids, handoffs_of, settled
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

AMS = ZoneInfo("Europe/Amsterdam")


async def test_the_last_in_line_hears_once_when_they_are_next(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        chats = [WebChat(baton.engine, baton.web, name) for name in ("a", "b", "c")]
        for chat in chats:
            await chat.send("agent")
            await chat.expect(TEXTS.human_waiting)
            await chat.next()
        told = time.time()
        for chat in chats[:2]:
            customer, conversation = await customer_ids(baton, chat)
            await handoffs.claim(conversation, customer, grace)
        await settled(baton)
        last = chats[2]
        await handoffs.tick(now=told + 10)  # moved up, but was told less than 5 minutes ago
        await handoffs.tick(now=told + 301)
        await handoffs.tick(now=told + 700)  # nothing new: nothing said
        await settled(baton)
        heard = [r.text for r in baton.web.replies(last.identity, last.seen)]
    # The two claims took no time, so the estimate per place fell to under a minute.
    assert heard == ["You're next in the queue. The expected wait is less than a minute."]


async def test_outside_business_hours_the_customer_hears_when_people_answer(
    database_url: str,
) -> None:
    saturday = dt.datetime(2026, 1, 3, 18, 0, tzinfo=AMS).timestamp()
    async with running_baton(
        database_url,
        app,
        business_hours="mon-fri 09:00-17:00",
        timezone="Europe/Amsterdam",
        reply_by_minutes=30,
    ) as baton:
        handoffs = handoffs_of(baton)
        handoffs.clock = lambda: saturday
        chat = WebChat(baton.engine, baton.web)
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        await chat.expect(
            "Our team is away right now. A person will answer from Monday 5 January at 09:00 "
            "(Europe/Amsterdam time); you're number 1 in the queue."
        )
        [handoff] = await handoffs.db.open_handoffs()
    monday = dt.datetime(2026, 1, 5, 9, 30, tzinfo=AMS).timestamp()
    assert handoff["deadline_at"] == monday


async def test_a_missed_reply_by_deadline_is_recorded_once(database_url: str) -> None:
    async with running_baton(database_url, app, reply_by_minutes=30) as baton:
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        chat = WebChat(baton.engine, baton.web)
        await chat.send("agent")
        await chat.next()
        await chat.next()
        [handoff] = await handoffs.db.open_handoffs()
        deadline = handoff["deadline_at"]
        await handoffs.tick(now=deadline - 1)
        assert await handoffs.db.breaches(0) == []
        await handoffs.tick(now=deadline + 1)
        await handoffs.tick(now=deadline + 60)
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await handoffs.reply(conversation, customer, grace, "Sorry for the wait!")
        breaches = await handoffs.db.breaches(0)
        detail = await handoffs.db.conversation(conversation)
    assert [b["conversation_id"] for b in breaches] == [conversation]
    assert detail is not None
    assert [e["kind"] for e in detail["events"]] == ["waiting", "breached", "claimed"]
    assert deadline - handoff["created_at"] == 30 * 60


async def test_replying_late_records_the_breach(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app, reply_by_minutes=30) as baton:
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        handoffs.clock = lambda: time.time() - 3600  # the handoff happened an hour ago
        chat = WebChat(baton.engine, baton.web)
        await chat.send("agent")
        await chat.next()
        await chat.next()
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await handoffs.reply(conversation, customer, grace, "Sorry for the wait!")
        await handoffs.reply(conversation, customer, grace, "Anything else?")
        breaches = await handoffs.db.breaches(0)
    assert [b["conversation_id"] for b in breaches] == [conversation]
