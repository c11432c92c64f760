"""Durable timers in flows: `ctx.sleep` across a restart of Baton, woken once on the
customer's current channel, with the clock moved forward (no real waiting); a sleep that the
customer's next message cancels; `engine.start_flow`."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.base import Inbound
from bot.followup import Followup
from bot.testing import CHANNELS, chat_on, chat_with_restarts
from dialogs import App, Choice, Context, Keyword, flow
from storage import FollowupStore
from tests.support.baton import running_baton
from tests.support.channels import ScriptedChannel
from tests.support.databases import fresh_database


@flow(triggers=[Keyword("replacement")])
async def replacement(ctx: Context) -> None:
    await ctx.say("We're sending a replacement. I'll check with you in two days.")
    await ctx.sleep(timedelta(days=2))
    arrived = await ctx.ask(
        "Did the replacement arrive?", choices=[Choice("yes", "Yes"), Choice("no", "No")]
    )
    await ctx.say("Great, enjoy!" if arrived == "yes" else "Sorry! We'll send another one.")


@flow(triggers=[Keyword("remind me")])
async def reminder(ctx: Context) -> None:
    await ctx.say("I'll remind you in an hour, unless you write before.")
    await ctx.sleep(timedelta(hours=1), cancel_on_message=True)
    await ctx.say("Here is your reminder.")


@flow(triggers=[Keyword("hello")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


@flow(name="parcel_news")
async def parcel_news(ctx: Context) -> None:
    await ctx.say(f"Your parcel {ctx.args['parcel']} has shipped.")


APP = App(flows=[replacement, reminder, hello, parcel_news])


def _db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_flow_sleeps_two_days_across_a_restart_and_follows_up_once(
    channel: str, tmp_path: Path
) -> None:
    async with chat_with_restarts(channel, APP, database_url=_db(tmp_path)) as session:
        chat = session.chat
        assert chat is not None
        await chat.send("I need a replacement")
        await chat.expect("We're sending a replacement. I'll check with you in two days.")
        await chat.baton.advance(timedelta(days=1))
        await chat.expect_no_reply()  # a day later: still asleep
        customer_id = (await chat.conversation()).customer_id
        # Baton stops and starts again (a deploy); the new process's clock is moved on.
        chat = await session.restart()
        await chat.baton.advance(timedelta(days=2))
        await chat.expect("Did the replacement arrive?", choices=("Yes", "No"))
        await chat.choose("Yes")
        await chat.expect("Great, enjoy!")
        await chat.baton.advance(timedelta(days=10))
        await chat.expect_no_reply()  # woken once only
        timers = await FollowupStore(chat.baton.store).timers(customer_id)
        assert [(t["kind"], t["status"]) for t in timers] == [("wake", "fired")]


@pytest.mark.parametrize("channel", ["twilio"])
async def test_a_message_cancels_a_sleep_that_asks_for_it(channel: str, tmp_path: Path) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path)) as chat:
        await chat.send("remind me")
        await chat.expect("I'll remind you in an hour, unless you write before.")
        await chat.send("hello")
        await chat.expect("Hello!")
        await chat.baton.advance(timedelta(hours=2))
        await chat.expect_no_reply()
        customer_id = (await chat.conversation()).customer_id
        timers = await FollowupStore(chat.baton.store).timers(customer_id)
        assert [(t["kind"], t["status"]) for t in timers] == [("wake", "cancelled")]


@pytest.mark.parametrize("channel", ["slack"])
async def test_a_sleep_without_cancel_survives_other_talk(channel: str, tmp_path: Path) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path)) as chat:
        await chat.send("I need a replacement")
        await chat.expect("We're sending a replacement. I'll check with you in two days.")
        await chat.send("hello")
        await chat.expect("Hello!")
        await chat.baton.advance(timedelta(days=2))
        await chat.expect("Did the replacement arrive?", choices=("Yes", "No"))
        await chat.send("no")
        await chat.expect("Sorry! We'll send another one.")


@pytest.mark.parametrize("channel", ["telegram"])
async def test_start_flow_runs_a_flow_for_a_customer_once(channel: str, tmp_path: Path) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path)) as chat:
        await chat.send("hello")
        await chat.expect("Hello!")
        customer_id = (await chat.conversation()).customer_id
        engine = chat.baton.engine
        assert await engine.start_flow(customer_id, "parcel_news", key="p1", parcel="AB12")
        assert not await engine.start_flow(customer_id, "parcel_news", key="p1", parcel="AB12")
        await chat.expect("Your parcel AB12 has shipped.")
        await chat.baton.settle()
        await chat.expect_no_reply()
        with pytest.raises(LookupError, match="no flow named 'nope'"):
            await engine.start_flow(customer_id, "nope")
        with pytest.raises(LookupError, match="no customer 999"):
            await engine.start_flow(999, "parcel_news", parcel="x")


async def test_two_engines_on_postgresql_wake_a_sleeping_flow_once(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        one, two = ScriptedChannel(), ScriptedChannel()
        async with (
            running_baton(url, APP, adapters=[one]) as a,
            running_baton(url, APP, adapters=[two]) as b,
        ):
            await a.engine.receive(
                [Inbound("scripted", uuid.uuid4().hex, "ann", text="I need a replacement")]
            )
            await a.settle()
            for baton in (a, b):
                later = time.time() + 2 * 86400 + 60
                baton.engine.core.clock = lambda later=later: later  # type: ignore[misc]
            # Both processes look for due work at the same moment, several times over.
            for _ in range(5):
                await asyncio.gather(
                    a.engine.feature(Followup).tick(), b.engine.feature(Followup).tick()
                )
            for _ in range(50):
                await asyncio.gather(a.settle(), b.settle())
                texts = [text for _, text in one.delivered + two.delivered]
                if "Did the replacement arrive?" in texts:
                    break
            found = await a.store.identity("scripted", "ann")
            assert found is not None
            timers = await FollowupStore(a.store).timers(found[1])
    texts = [text for _, text in one.delivered + two.delivered]
    assert texts.count("Did the replacement arrive?") == 1
    assert [(t["kind"], t["status"]) for t in timers] == [("wake", "fired")]
