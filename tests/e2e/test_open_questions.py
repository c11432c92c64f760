"""The demo bot's open questions, on the real channels: typed answers as customers type them,
a question that expired, a resolution, another flow's keyword while a question waits, and a
flow with a missing `await`. The clock is the engine's (`engine.core.clock`): no sleeping."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.testing import ChatScript, chat_on
from dialogs import App, Command, Context, Texts, flow
from tests.console.support import add_agent, handoffs_of

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
MENU = ("Where is my order?", "A question", "My preferences", "Talk to a person")
TEXTS = Texts()

on_every_channel = pytest.mark.parametrize("chat", ["telegram", "twilio", "slack"], indirect=True)


@on_every_channel
async def test_the_menu_option_typed_without_punctuation_picks_it(chat: ChatScript) -> None:
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    await chat.send("where is my order")
    await chat.expect("What's your name?")


@on_every_channel
async def test_a_typed_number_picks_the_option(chat: ChatScript) -> None:
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    await chat.send("2")
    await chat.expect("What is your question about?")
    await chat.send("option 1")
    await chat.expect("We're open Monday to Friday, 9:00 to 17:30, and Saturday 10:00 to 16:00.")


@pytest.mark.parametrize("chat", ["telegram"], indirect=True)
async def test_after_an_open_question_expired_the_next_message_starts_fresh(
    chat: ChatScript,
) -> None:
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    customer_id = (await chat.conversation()).customer_id
    before = await chat.baton.store.load_state(customer_id)
    core = chat.baton.engine.core
    a_day_later = time.time() + 25 * 3600
    core.clock = lambda: a_day_later

    await chat.send("thanks!")

    await chat.expect(GREETING, choices=MENU)  # the start flow again, not "pick an option"
    after = await chat.baton.store.load_state(customer_id)
    assert after.active_flow == "greeting"
    assert after.active_run_id != before.active_run_id  # a new run; the old one expired
    assert after.journal[-1].value["at"] == a_day_later


@pytest.mark.parametrize("chat", ["slack"], indirect=True)
async def test_after_a_resolution_the_next_message_starts_fresh(chat: ChatScript) -> None:
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("agent")
    await chat.expect(TEXTS.human_waiting)
    conversation = await chat.conversation()
    handoffs = handoffs_of(chat.baton)
    grace = await add_agent(chat.baton, "grace@example.com", "Grace")
    row = await chat.baton.store.conversation(conversation.customer_id)
    await handoffs.claim(int(row["id"]), conversation.customer_id, grace)
    await handoffs.resolve(int(row["id"]), conversation.customer_id, grace, seen=None)
    heard = [reply.text for reply in await chat.read_all()]  # the queue, the agent joining
    assert heard[-1] == TEXTS.resolved

    await chat.send("thanks!")

    # Not "Thanks, thanks!. What's your order number?": the old question ended.
    await chat.expect(GREETING, choices=MENU)


@on_every_channel
async def test_another_flows_keyword_while_a_question_waits_offers_to_switch(
    chat: ChatScript,
) -> None:
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What's your order number?")
    await chat.send("what are your opening hours?")
    await chat.expect(
        "Do you want to stop the order check and start the questions?", choices=["Yes", "No"]
    )
    await chat.choose("Yes")  # a button; "1" typed on SMS, where "yes" is the opt-in word
    await chat.expect("We're open Monday to Friday, 9:00 to 17:30, and Saturday 10:00 to 16:00.")

    await chat.send("where is my order")
    await chat.expect("Thanks, Ada. What's your order number?")  # the name is remembered
    await chat.send("returns")
    await chat.expect("Do you want to stop the order check and start the questions?")
    await chat.send("no")
    await chat.expect("Thanks, Ada. What's your order number?")
    await chat.send("1234 5678")
    await chat.expect_choices("Track it", "Talk to a person")


async def fetch_text() -> str:
    return "Your parcel is on its way."


@flow(triggers=[Command("track")])
async def forgets_await(ctx: Context) -> None:
    await ctx.say(fetch_text())  # type: ignore[arg-type]


async def test_a_missing_await_gets_the_customer_the_apology(tmp_path: Path) -> None:
    app = App(flows=[forgets_await])
    url = f"sqlite+aiosqlite:///{tmp_path / 'await.db'}"
    async with chat_on("telegram", app, database_url=url) as chat:
        await chat.send("/track")
        reply = await chat.expect(TEXTS.apology)
        assert "coroutine" not in reply.text
        await chat.expect_no_reply()
