"""The demo bot's conversations, one script each, run unchanged on Telegram, SMS and Slack.

Each script goes through the real SDK of the channel and its emulator, and the real Baton
(storage, engine, outbox), on SQLite and PostgreSQL: the `chat` fixture of tests/conftest.py,
made by `bot.testing.chat_fixture`. The last part tests the kit itself.
"""

from __future__ import annotations

import re

import pytest

from adapters.emulators import TwilioEmulator
from bot.app import SETTINGS
from bot.demo import app
from bot.testing import CHANNELS, ChatScript, chat_fixture, chat_on
from dialogs.flows import Texts

on_every_channel = pytest.mark.parametrize("chat", CHANNELS, indirect=True)

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
MENU = ("Where is my order?", "A question", "My preferences", "Talk to a person")
TEXTS = Texts()
HELP = (
    "I can help with the things below. You can also say 'never mind' to stop what we're doing, "
    "or 'agent' to talk to a person.\n"
    "- Check the status of an order ('where is my order')\n"
    "- Opening hours, returns and shipping\n"
    "- Remember your preferences (language, when to contact you)\n"
    "- Link your chats on Telegram, SMS and Slack into one ('link')"
)


async def order_until_the_choice(chat: ChatScript, number: str = "1234 5678") -> None:
    """Ask about an order, give the name Ada and `number`, up to "What would you like?"."""
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What's your order number?")
    await chat.send(number)
    digits = number.replace(" ", "")
    await chat.expect(
        f"Order {digits} is delivered. What would you like?",
        choices=["Track it", "Talk to a person"],
    )


# --- the demo's flows ----------------------------------------------------------------------------


@on_every_channel
async def test_customer_reaches_a_person(chat: ChatScript) -> None:
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What's your order number?")
    await chat.send("12")
    await chat.expect("Order numbers have 8 digits, like 1234 5678.")
    await chat.send("1234 5678")
    await chat.expect_choices("Track it", "Talk to a person")
    await chat.choose("Talk to a person")  # a button press; "2" typed on SMS
    await chat.expect(TEXTS.human_waiting)
    conversation = await chat.conversation()
    assert (conversation.status, conversation.handoff_reason) == (
        "waiting",
        "order 12345678: customer asked for a person",
    )


@on_every_channel
async def test_greeting_choices_lead_to_the_order_status_and_a_tracking_link(
    chat: ChatScript,
) -> None:
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    await chat.choose("Where is my order?")
    await chat.expect("What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What's your order number?")
    await chat.send("1234 567")
    await chat.expect("Order numbers have 8 digits, like 1234 5678.")
    await chat.send("1234 5678")
    await chat.expect("Order 12345678 is delivered. What would you like?")
    await chat.choose("Track it")
    await chat.expect("Here is your tracking link: https://track.example.com/12345678")
    conversation = await chat.conversation()
    assert conversation.status == "bot"
    assert conversation.memory["name"] == "Ada"


@on_every_channel
async def test_the_faq_answers_by_keyword_and_from_the_menu(chat: ChatScript) -> None:
    await chat.send("What are your opening hours?")
    await chat.expect("We're open Monday to Friday, 9:00 to 17:30, and Saturday 10:00 to 16:00.")
    await chat.send("hi")
    await chat.expect(GREETING)
    await chat.choose("A question")
    await chat.expect(
        "What is your question about?", choices=["Opening hours", "Returns", "Shipping"]
    )
    await chat.choose("Returns")
    await chat.expect(
        "You can return anything within 30 days. Start a return at "
        "https://shop.example.com/returns and we'll e-mail a label."
    )
    await chat.send("how long does delivery take")
    await chat.expect(
        "Orders placed before 22:00 ship the same day; delivery takes 1-2 working days."
    )


@on_every_channel
async def test_a_chosen_language_is_remembered_for_the_greeting(chat: ChatScript) -> None:
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    await chat.choose("My preferences")
    await chat.expect("Which language do you prefer?", choices=["English", "Nederlands"])
    await chat.choose("Nederlands")
    await chat.expect("When may we contact you?", choices=["Morning", "Afternoon", "Evening"])
    await chat.choose("Evening")
    await chat.expect("Genoteerd! We nemen bij voorkeur contact op in de avond.")
    await chat.send("hi")
    # Baton's own words come in the customer's language ("Talk to a person" is one of them).
    dutch_menu = [*MENU[:3], "Met een medewerker praten"]
    await chat.expect(
        "Hallo! I'm the Baton demo bot. Waarmee kan ik je helpen?", choices=dutch_menu
    )
    await chat.choose("Where is my order?")
    await chat.expect("What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What's your order number?")
    await chat.send("1234 5678")
    await chat.choose("Track it")
    await chat.expect("Here is your tracking link: https://track.example.com/12345678")
    await chat.send("hallo")
    await chat.expect("Hallo Ada! I'm the Baton demo bot. Waarmee kan ik je helpen?")
    memory = (await chat.conversation()).memory
    assert (memory["language"], memory["contact_time"], memory["name"]) == ("nl", "evening", "Ada")


@on_every_channel
async def test_a_remembered_name_and_contact_time_are_used_by_the_order_flow(
    chat: ChatScript,
) -> None:
    await chat.send("preferences")
    await chat.expect("Which language do you prefer?")
    await chat.choose("English")
    await chat.expect("When may we contact you?")
    await chat.choose("Morning")
    await chat.expect("Noted! We'll contact you in the morning when we need to.")
    await order_until_the_choice(chat)
    await chat.choose("Track it")
    await chat.expect("Here is your tracking link: https://track.example.com/12345678")
    await chat.send("where is my order")
    await chat.expect("Thanks, Ada. What's your order number?")  # the name is not asked again
    await chat.send("8765 4321")
    await chat.expect("Order 87654321 is on its way. What would you like?")
    await chat.choose("Talk to a person")
    await chat.expect("Noted: you prefer to be contacted in the morning.")
    await chat.expect(TEXTS.human_waiting)
    assert (await chat.conversation()).status == "waiting"


# --- interruptions in the middle of a flow ------------------------------------------------------


@on_every_channel
async def test_help_mid_flow_says_what_the_bot_does_and_asks_again(chat: ChatScript) -> None:
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("help")
    await chat.expect(HELP)
    await chat.expect("What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What's your order number?")


@on_every_channel
async def test_help_at_a_choice_offers_the_choices_again(chat: ChatScript) -> None:
    await order_until_the_choice(chat)
    await chat.send("help")
    await chat.expect(HELP)
    await chat.expect(
        "Order 12345678 is delivered. What would you like?",
        choices=["Track it", "Talk to a person"],
    )
    await chat.choose("Track it")
    await chat.expect("Here is your tracking link: https://track.example.com/12345678")


@on_every_channel
async def test_never_mind_mid_flow_stops_it(chat: ChatScript) -> None:
    # "never mind" rather than "cancel": on SMS, CANCEL is one of Twilio's opt-out keywords
    # (see test_cancel_on_sms_opts_the_number_out).
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("never mind")
    await chat.expect(TEXTS.cancelled)
    await chat.send("Ada")  # no longer an answer: the greeting starts
    await chat.expect(GREETING, choices=MENU)


@on_every_channel
async def test_agent_mid_flow_hands_off_and_never_mind_takes_it_back(chat: ChatScript) -> None:
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("agent")
    await chat.expect(TEXTS.human_waiting)
    await chat.read_all()  # anything else said while handing off (the queue position)
    conversation = await chat.conversation()
    assert (conversation.status, conversation.handoff_reason) == (
        "waiting",
        "customer asked for a person",
    )
    await chat.send("never mind")
    await chat.expect(TEXTS.cancelled)
    assert (await chat.conversation()).status == "bot"


# --- what each channel shows ---------------------------------------------------------------------


@on_every_channel
async def test_the_raw_reply_is_each_platforms_own_format(chat: ChatScript) -> None:
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    params = chat.reply.params
    if chat.channel == "telegram":
        assert params["chat_id"] == 4242
        assert params["reply_markup"]["inline_keyboard"][0] == [
            {"text": "Where is my order?", "callback_data": "order"}
        ]
    elif chat.channel == "twilio":
        assert params["To"] == "+15551230001"
        assert params["Body"] == (
            f"{GREETING}\n\n1. Where is my order?\n2. A question\n3. My preferences\n"
            "4. Talk to a person"
        )
    elif chat.channel == "whatsapp":
        assert params["To"] == "whatsapp:+15551230001"
        assert params["ContentSid"].startswith("HX")  # a list picker, made through Content
    else:
        assert params["channel"] == "D0CUST001"
        actions = [b for b in params["blocks"] if b["type"] == "actions"]
        assert [e["value"] for e in actions[0]["elements"]] == [
            "order",
            "faq",
            "preferences",
            "agent",
        ]


@on_every_channel
async def test_a_long_reply_sent_in_parts_reads_as_one(chat: ChatScript) -> None:
    name = " ".join(["Ada Lovelace"] * 300)  # 3,899 characters
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send(name)
    reply = await chat.expect(f"Thanks, {name}. What's your order number?")
    parts = {"telegram": 1, "twilio": 3, "slack": 1, "whatsapp": 3}[chat.channel]
    assert len(reply.calls) == parts


@pytest.mark.parametrize("chat", ["twilio"], indirect=True)
async def test_cancel_on_sms_opts_the_number_out(chat: ChatScript) -> None:
    """Twilio treats a lone CANCEL as an opt-out: it answers and blocks the number itself."""
    await chat.send("where is my order")
    await chat.expect("What's your name?")
    await chat.send("cancel")
    await chat.expect_no_reply()
    emulator = chat.emulator
    assert isinstance(emulator, TwilioEmulator)
    assert chat.customer in emulator.opted_out
    await chat.send("START")
    await chat.expect_no_reply()
    await chat.send("Ada")  # the flow was never cancelled
    await chat.expect("Thanks, Ada. What's your order number?")


# --- the kit itself ------------------------------------------------------------------------------


@on_every_channel
async def test_two_customers_get_their_own_replies(chat: ChatScript) -> None:
    other = {
        "telegram": "4343",
        "twilio": "+15551230002",
        "slack": "U0CUST002",
        "whatsapp": "+15551230002",
    }[chat.channel]
    bob = chat.with_customer(other)
    await chat.send("where is my order")
    await bob.send("hi")
    await bob.expect(GREETING)
    await chat.expect("What's your name?")
    await bob.choose("A question")
    await chat.send("Ada")
    await bob.expect("What is your question about?")
    await chat.expect("Thanks, Ada. What's your order number?")


@on_every_channel
async def test_a_failed_send_is_retried_and_expect_sees_the_retry(chat: ChatScript) -> None:
    chat.emulator.fail_next(1, status=500)
    await chat.send("hi")
    await chat.expect(GREETING)
    failed = [c for c in chat.emulator.calls() if c.status == 500]
    assert len(failed) == 1


sqlite_chat = chat_fixture(app, name="sqlite_chat")


async def test_the_fixture_runs_on_every_channel_and_sqlite_by_default(
    sqlite_chat: ChatScript,
) -> None:
    await sqlite_chat.send("hi")
    await sqlite_chat.expect(GREETING, choices=MENU)
    assert sqlite_chat.baton.app[SETTINGS].database_url.startswith("sqlite+aiosqlite:///")


@on_every_channel
async def test_expect_takes_a_pattern_and_read_all_passes_over_replies(chat: ChatScript) -> None:
    await chat.send("where is my order")
    await chat.send("Ada")
    await chat.send("1234 5678")
    read = await chat.read_all()
    assert [r.text for r in read] == [
        "What's your name?",
        "Thanks, Ada. What's your order number?",
        "Order 12345678 is delivered. What would you like?",
    ]
    assert chat.choices == ("Track it", "Talk to a person")
    await chat.choose("Track it")
    await chat.expect(re.compile(r"Here is your tracking link: https://\S+/\d{8}"))


@pytest.mark.parametrize("channel", CHANNELS)
async def test_expect_says_what_the_customer_saw_instead(channel: str, sqlite_url: str) -> None:
    async with chat_on(channel, app, database_url=sqlite_url) as chat:
        await chat.send("hi")
        with pytest.raises(AssertionError, match="I'm the Baton demo bot") as raised:
            await chat.expect("Hello!")
        assert f"{channel}: the customer expected 'Hello!'" in str(raised.value)
        with pytest.raises(AssertionError, match=r"no choice 'Refund'.*'A question'"):
            await chat.choose("Refund")
        with pytest.raises(AssertionError, match="expected the choices"):
            await chat.expect_choices("Yes", "No")


async def test_expect_no_reply_fails_when_the_bot_answered(sqlite_url: str) -> None:
    async with chat_on("telegram", app, database_url=sqlite_url) as chat:
        await chat.send("hi")
        with pytest.raises(AssertionError, match="expected no reply, but the bot sent"):
            await chat.expect_no_reply()


async def test_expect_times_out_with_the_calls_seen(sqlite_url: str) -> None:
    async with chat_on("slack", app, database_url=sqlite_url) as chat:
        await chat.send("hi")
        await chat.expect(GREETING)
        with pytest.raises(AssertionError, match=r"no reply \('More\?'\) within 0.2 s"):
            await chat.expect("More?", timeout=0.2)


async def test_an_unknown_channel_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        async with chat_on("fax", app, database_url=sqlite_url):
            pass
