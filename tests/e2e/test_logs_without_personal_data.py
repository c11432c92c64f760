"""At INFO and above, Baton's log output carries ids, never what customers wrote, their
phone numbers, emails or names: journeys on every channel with planted strings, including
failed sends and a handoff, and none of the strings in the log."""

from __future__ import annotations

import logging
import re

import pytest

from bot.demo import app as demo_app
from bot.privacy.logs import PersonalDataFilter, scrub
from bot.testing import chats_on

PHONE = "+15557654321"
NAME = "Plantedfirstname"
EMAIL = "planted.person@example.org"
TEXT = "qqplantedlogtext"


async def test_journeys_log_no_personal_data_at_info(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with chats_on(
        ["telegram", "twilio", "slack"],
        demo_app,
        database_url=database_url,
        customers={"twilio": PHONE},
        name=NAME,
    ) as chats:
        for chat in chats.values():
            chat.emulator.fail_next(2, status=500)  # retried sends are logged
            await chat.send(f"hi, {TEXT}, mail me at {EMAIL} or call {PHONE}")
            await chat.next_reply()
            await chat.send("where is my order")
            await chat.expect("What's your name?")
            await chat.send(f"{NAME} {TEXT}")
            await chat.next_reply()
            await chat.send("talk to a person")
            await chat.next_reply()
        await chats["twilio"].baton.engine.idle()
    logged = caplog.text
    assert "attempt 1 failed" in logged  # the failures were logged, by id
    found = [s for s in (PHONE, NAME, EMAIL, TEXT, PHONE[1:]) if s in logged]
    assert found == []


def test_the_filter_scrubs_phone_numbers_and_emails() -> None:
    assert scrub(f"The 'To' number {PHONE} is not valid; {EMAIL}") == (
        "The 'To' number <phone> is not valid; <email>"
    )
    assert (
        scrub("outbox 12: attempt 3 failed (HTTP 500)") == "outbox 12: attempt 3 failed (HTTP 500)"
    )
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "to %s", (PHONE,), None)
    PersonalDataFilter().filter(record)
    assert re.sub(r"\s", "", record.getMessage()) == "to<phone>"
