"""Handoff as one state machine: bot -> waiting -> with agent -> resolved -> bot, and its races.

A customer on the web channel talks to the demo bot in a real Baton (SQLite and PostgreSQL);
agents act through the handoff service, as the console does.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.demo import app
from dialogs import App, Choice, Context, flow
from storage import ConsoleConflict
from tests.console.support import (
    TEXTS,
    HeldCommits,
    add_agent,
    customer_ids,
    handoffs_of,
    settled,
    status,
)
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

NEXT = "You're next in the queue. The expected wait is about 5 minutes."


async def test_asking_for_a_person_queues_with_place_wait_and_a_summary(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        ada = WebChat(baton.engine, baton.web, "ada")
        await ada.send("where is my order")
        await ada.expect("What's your name?")
        await ada.send("Ada")
        await ada.expect("Thanks, Ada. What's your order number?")
        await ada.send("agent")
        await ada.expect(TEXTS.human_waiting)
        await ada.expect(NEXT)
        bob = WebChat(baton.engine, baton.web, "bob")
        await bob.send("talk to a person")
        await bob.expect(TEXTS.human_waiting)
        await bob.expect("You're number 2 in the queue. The expected wait is about 10 minutes.")
        queue = await handoffs_of(baton).db.open_handoffs()
        customer, _ = await customer_ids(baton, ada)
        assert await status(baton, customer) == "waiting"
    assert [(h["status"], h["trigger"], h["reason"]) for h in queue] == [
        ("waiting", "customer", "customer asked for a person"),
        ("waiting", "customer", "customer asked for a person"),
    ]
    summary = queue[0]["summary"]
    assert summary["flow"] == "order_status"
    assert summary["step"] == "Thanks, Ada. What's your order number?"
    assert summary["answers"] == [{"question": "What's your name?", "answer": "Ada"}]
    assert summary["memory"] == {"name": "Ada"}
    assert summary["identities"] == [
        {"channel": "web", "external_id": "ada", "display_name": None}
    ]
    assert summary["last_messages"] == [  # the last messages, both ways
        {"from": "customer", "text": "where is my order"},
        {"from": "bot", "text": "What's your name?"},
        {"from": "customer", "text": "Ada"},
        {"from": "bot", "text": "Thanks, Ada. What's your order number?"},
        {"from": "customer", "text": "agent"},
    ]


async def test_a_flow_handoff_records_its_reason_and_the_choices_as_labels(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("hi")
        await chat.next()
        await chat.send(choice="agent")  # "Talk to a person" in the greeting
        await chat.expect(TEXTS.human_waiting)
        await chat.expect(NEXT)
        [handoff] = await handoffs_of(baton).db.open_handoffs()
    assert (handoff["trigger"], handoff["reason"]) == (
        "flow",
        "customer asked for a person from the greeting",
    )
    assert handoff["summary"]["flow"] == "greeting"
    assert handoff["summary"]["answers"] == [
        {
            "question": "Hi! I'm the Baton demo bot. What can I help you with?",
            "answer": "Talk to a person",
        }
    ]


async def test_not_understanding_twice_in_a_row_hands_off(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("hi")
        await chat.next()
        await chat.send("purple elephants")
        await chat.expect(TEXTS.pick_a_choice)
        await chat.send("do you sell umbrellas")
        await chat.expect(TEXTS.pick_a_choice)
        await chat.expect(TEXTS.not_understood_handoff)
        await chat.expect(NEXT)
        [handoff] = await handoffs_of(baton).db.open_handoffs()
    assert handoff["trigger"] == "misunderstood"


async def test_understanding_in_between_resets_the_count(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("hi")
        await chat.next()
        await chat.send("purple elephants")
        await chat.expect(TEXTS.pick_a_choice)
        await chat.send("help")
        await chat.next()
        await chat.next()  # the open question again
        await chat.send("do you sell umbrellas")
        await chat.expect(TEXTS.pick_a_choice)
        await settled(baton)
        customer, _ = await customer_ids(baton, chat)
        assert await status(baton, customer) == "bot"


async def test_with_an_agent_the_bot_is_quiet_and_the_agent_reply_reaches_the_channel(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        await chat.expect(NEXT)
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await chat.expect("Grace from our team is here to help you.")
        await chat.send("hi")  # would start the greeting with the bot
        await chat.send("my parcel never arrived")
        await settled(baton)
        assert baton.web.replies(chat.identity, chat.seen) == []
        await handoffs.reply(conversation, customer, grace, "Sorry! Let me check that for you.")
        await chat.expect("Sorry! Let me check that for you.")
        await settled(baton)
        history = await handoffs.db.history(customer)
    assert [(m["author"], m["text"], m["delivery_status"]) for m in history[-4:]] == [
        ("bot", "Grace from our team is here to help you.", "sent"),
        ("customer", "hi", "received"),
        ("customer", "my parcel never arrived", "received"),
        ("agent", "Sorry! Let me check that for you.", "sent"),
    ]
    assert history[-1]["payload"]["agent_name"] == "Grace"


async def test_resolve_tells_the_customer_and_the_bot_answers_the_next_message(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        await chat.send("agent")
        await chat.next()
        await chat.next()
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await chat.next()
        await handoffs.resolve(conversation, customer, grace, seen=None)
        await chat.expect(TEXTS.resolved)
        assert await status(baton, customer) == "resolved"
        await chat.send("hello again")
        await chat.expect("Hi! I'm the Baton demo bot. What can I help you with?")
        assert await status(baton, customer) == "bot"
        assert await handoffs.db.open_handoffs() == []


async def test_hand_back_asks_the_open_question_again(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        await chat.send("where is my order")
        await chat.expect("What's your name?")
        await chat.send("agent")
        await chat.next()
        await chat.next()
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await chat.next()
        await handoffs.hand_back(conversation, customer, grace, seen=None)
        await chat.expect(TEXTS.handed_back)
        await chat.expect("What's your name?")
        await chat.send("Ada")
        await chat.expect("Thanks, Ada. What's your order number?")
        assert await status(baton, customer) == "bot"


async def test_the_customer_says_bot_to_leave_the_agent(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        await chat.send("agent")
        await chat.next()
        await chat.next()
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await chat.next()
        await chat.send("bot")
        await chat.expect(TEXTS.back_to_bot)
        assert await status(baton, customer) == "bot"
        assert await handoffs.db.open_handoffs() == []
        with pytest.raises(ConsoleConflict) as caught:
            await handoffs.reply(conversation, customer, grace, "still there?")
    assert caught.value.code == "taken"


async def test_two_agents_claiming_at_once_one_wins(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        alan = await add_agent(baton, "alan@example.com", "Alan")
        conversations = []
        for n in range(8):
            chat = WebChat(baton.engine, baton.web, f"c{n}")
            await chat.send("agent")
            await chat.next()
            conversations.append(await customer_ids(baton, chat))
        await settled(baton)
        results = await asyncio.gather(
            *(
                handoffs.claim(conversation, customer, agent)
                for customer, conversation in conversations
                for agent in (grace, alan)
            ),
            return_exceptions=True,
        )
        holders = {h["conversation_id"]: h["agent_id"] for h in await handoffs.db.open_handoffs()}
    for index, (_, conversation) in enumerate(conversations):
        pair = results[2 * index : 2 * index + 2]
        wins = [r for r in pair if r is None]
        losses = [r for r in pair if isinstance(r, ConsoleConflict)]
        assert (len(wins), [e.code for e in losses]) == (1, ["taken"])
        winner = (grace, alan)[pair.index(None)]
        assert holders[conversation] == winner.id


async def test_a_message_arriving_while_the_agent_resolves_is_answered_by_the_bot(
    database_url: str,
) -> None:
    held = HeldCommits()
    async with running_baton(database_url, app, features=[held]) as baton:
        chat = WebChat(baton.engine, baton.web)
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        await chat.send("agent")
        await chat.next()
        await chat.next()
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await chat.next()
        held.armed = True
        await chat.send("hello?")  # routed to the agent, held before it commits
        await asyncio.wait_for(held.reached.wait(), 10)
        await handoffs.resolve(conversation, customer, grace, seen=None)
        held.release.set()
        await chat.expect(TEXTS.resolved)
        await chat.expect("Hi! I'm the Baton demo bot. What can I help you with?")
        await settled(baton)
        history = await handoffs.db.history(customer)
    # The held commit lost (the status changed under it) and the turn ran again on "resolved".
    assert held.results[0] is None
    assert [m["text"] for m in history if m["author"] == "customer"].count("hello?") == 1


async def test_resolving_after_an_unread_customer_message_is_refused(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        await chat.send("agent")
        await chat.next()
        await chat.next()
        customer, conversation = await customer_ids(baton, chat)
        await handoffs.claim(conversation, customer, grace)
        await chat.next()
        seen = (await handoffs.db.history(customer))[-1]["id"]
        await chat.send("wait, one more thing")
        await settled(baton)
        with pytest.raises(ConsoleConflict) as caught:
            await handoffs.resolve(conversation, customer, grace, seen=seen)
        assert await status(baton, customer) == "agent"
        newest = (await handoffs.db.history(customer))[-1]["id"]
        await handoffs.resolve(conversation, customer, grace, seen=newest)
        await chat.expect(TEXTS.resolved)
    assert caught.value.code == "customer_wrote"


async def test_cancel_racing_a_claim_leaves_one_consistent_state(database_url: str) -> None:
    async with running_baton(database_url, app) as baton:
        handoffs = handoffs_of(baton)
        grace = await add_agent(baton, "grace@example.com", "Grace")
        chats = [WebChat(baton.engine, baton.web, f"r{n}") for n in range(6)]
        for chat in chats:
            await chat.send("agent")
            await chat.next()
        await settled(baton)
        ids = [await customer_ids(baton, chat) for chat in chats]

        async def claim(customer: int, conversation: int) -> None:
            with contextlib.suppress(ConsoleConflict):
                await handoffs.claim(conversation, customer, grace)

        await asyncio.gather(
            *(chat.send("never mind") for chat in chats),
            *(claim(customer, conversation) for customer, conversation in ids),
        )
        await settled(baton)
        open_by_conversation = {h["conversation_id"]: h for h in await handoffs.db.open_handoffs()}
        statuses = [await status(baton, customer) for customer, _ in ids]
    for (_, conversation), state in zip(ids, statuses, strict=True):
        handoff = open_by_conversation.get(conversation)
        if state == "bot":
            assert handoff is None
        else:
            assert state == "agent"
            assert handoff is not None
            assert (handoff["status"], handoff["agent_id"]) == ("agent", grace.id)


@flow
async def survey(ctx: Context) -> None:
    """Ask a question with choices, one of them the button for a person."""
    wants = await ctx.ask(
        "Happy?",
        choices=[Choice("yes", "Yes"), Choice("no", "No"), Choice("baton:human", "A person")],
    )
    if wants == "no":
        await ctx.handoff(reason="unhappy customer")


async def test_a_human_button_anywhere_asks_for_a_person(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, App(flows=[survey], start=survey)) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("hello")
        await chat.expect("Happy?")
        await chat.send(choice="baton:human")
        await chat.expect(TEXTS.human_waiting)
        await chat.expect(NEXT)
        [handoff] = await handoffs_of(baton).db.open_handoffs()
    assert handoff["trigger"] == "customer"
    assert handoff["summary"]["step"] == "Happy?"


async def test_typing_the_number_of_the_human_button_asks_for_a_person(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, App(flows=[survey], start=survey)) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("hello")
        await chat.expect("Happy?")
        await chat.send("3")  # as on SMS, where buttons are numbered options
        await chat.expect(TEXTS.human_waiting)
        customer, _ = await customer_ids(baton, chat)
        assert await status(baton, customer) == "waiting"
