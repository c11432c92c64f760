"""The guides' code (docs/guides/*.md include it from here and from examples/): each
test is what a page shows, run on Telegram, SMS and Slack through the emulators."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# --8<-- [start:fixture]
from bot.testing import ChatScript, chat_fixture, chats_on
from examples.booking import app

chat = chat_fixture(app)  # in conftest.py: every test asking for `chat` talks to this bot
# --8<-- [end:fixture]


# --8<-- [start:booking]
async def test_a_large_booking_goes_to_a_person(chat: ChatScript) -> None:
    await chat.send("I'd like to book a table")
    await chat.expect("Who is the booking for?")
    await chat.send("Ada")
    await chat.expect("How many seats, Ada?")
    await chat.send("12")
    await chat.expect("You can book 1 to 8 seats. How many would you like?")
    await chat.send("7")
    await chat.expect("Where should we send the confirmation?")
    await chat.send("ada@example.com")
    await chat.expect("Lunch or dinner?", choices=["Lunch", "Dinner"])
    await chat.choose("Dinner")  # a button; "2" typed on SMS
    conversation = await chat.conversation()
    assert conversation.status == "waiting"
    assert conversation.handoff_reason == "large booking BK-1042"


# --8<-- [end:booking]
# --8<-- [start:channels]
@pytest.mark.parametrize("chat", ["telegram"], indirect=True)
async def test_choices_are_telegram_buttons(chat: ChatScript) -> None:
    await chat.send("/book")
    await chat.expect("Who is the booking for?")
    await chat.send("Ada")
    await chat.expect("How many seats, Ada?")
    await chat.send("2")
    await chat.expect("Where should we send the confirmation?")
    await chat.send("ada@example.com")
    await chat.expect("Lunch or dinner?")
    keyboard = chat.reply.params["reply_markup"]["inline_keyboard"]  # the raw sendMessage
    assert [row[0]["text"] for row in keyboard] == ["Lunch", "Dinner"]


# --8<-- [end:channels]
# --8<-- [start:faults]
async def test_a_rate_limited_reply_is_sent_after_the_wait(chat: ChatScript) -> None:
    chat.emulator.fail_next(status=429, retry_after=1)  # the platform says: slow down
    await chat.send("book a table")
    await chat.expect("Who is the booking for?")  # the outbox waited and sent it again


# --8<-- [end:faults]
# --8<-- [start:replay]
async def test_a_remembered_answer_is_not_asked_again(chat: ChatScript) -> None:
    await chat.send("book a table")
    await chat.expect("Who is the booking for?")
    await chat.send("Ada")
    await chat.expect("How many seats, Ada?")
    await chat.send("2")
    await chat.expect("Where should we send the confirmation?")
    await chat.send("ada@example.com")
    await chat.expect("Lunch or dinner?")
    await chat.choose("Lunch")
    await chat.expect("Booked 2 seats for lunch, reference BK-1042.")
    await chat.send("book a table")  # name and email are remembered
    await chat.expect("How many seats, Ada?")
    await chat.send("3")
    await chat.expect("Lunch or dinner?")
    memory = (await chat.conversation()).memory
    assert (memory["name"], memory["email"]) == ("Ada", "ada@example.com")


# --8<-- [end:replay]


# --8<-- [start:run-turn]
async def test_one_turn_in_memory() -> None:
    from dialogs import run_turn
    from storage import CustomerState

    state = CustomerState(customer_id=1, conversation_id=1, status="bot", memory={})
    outcome = await run_turn(app, state, {"text": "book a table"}, channel="web")
    assert [reply.text for reply in outcome.replies] == ["Who is the booking for?"]


# --8<-- [end:run-turn]


@pytest.mark.parametrize(("env_file", "channel"), [("sms.env", "twilio"), ("slack.env", "slack")])
def test_the_channel_env_files_turn_their_channel_on(
    env_file: str, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from bot.settings import Settings

    for name in [n for n in os.environ if n.startswith("BATON_")]:
        monkeypatch.delenv(name)
    folder = Path(__file__).resolve().parents[2] / "examples" / "channels"
    settings = Settings(_env_file=folder / env_file)
    assert settings.channels_configured == [channel]


# --8<-- [start:linking]
async def test_a_code_from_telegram_makes_sms_the_same_customer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'linking.db'}"
    async with chats_on(["telegram", "twilio"], app, database_url=url) as chats:
        telegram, sms = chats["telegram"], chats["twilio"]
        await telegram.send("book a table")
        await telegram.expect("Who is the booking for?")
        await telegram.send("Ada")
        await telegram.expect("How many seats, Ada?")
        await telegram.send("link")  # proof: whoever sends the code can read this chat
        reply = await telegram.expect(re.compile(r"Your linking code is \d{5}-\d{5}\..*", re.S))
        code = re.search(r"\d{5}-\d{5}", reply.text)
        assert code is not None
        await sms.send(code.group())
        await sms.expect("Linked! This chat and your Telegram chat are one conversation now.")
        await sms.expect("How many seats, Ada?")  # the open question, now by SMS
        await sms.send("2")
        await sms.expect("Where should we send the confirmation?")
        assert (await sms.conversation()).memory["name"] == "Ada"


# --8<-- [end:linking]
