"""The Twilio adapter's pure parts: rendering, control words, parsing, error mapping."""

from __future__ import annotations

from email.utils import formatdate
from time import time

import pytest
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException

from adapters.base import Choice, Media, Prompt
from adapters.emulators import sms_params
from adapters.errors import RateLimited, SendError, Unreachable
from adapters.twilio import (
    TwilioAdapter,
    control_word,
    normalise_number,
    parse_retry_after,
    parse_sms,
    parse_status,
)
from adapters.twilio.adapter import send_error

adapter = TwilioAdapter(
    "AC" + "0" * 32, "token", "+15005550006", public_url="https://bot.example.com"
)


def bodies(prompt: Prompt) -> list[str]:
    return [part["body"] for part in adapter.render(prompt).parts]


# --- render -----------------------------------------------------------------------------------


def test_plain_text_is_one_part() -> None:
    assert adapter.render(Prompt("Hello")).parts == ({"body": "Hello", "media_url": []},)


def test_choices_become_numbered_lines() -> None:
    prompt = Prompt("Which one?", choices=(Choice("a", "Apples"), Choice("b", "Pears")))

    assert bodies(prompt) == ["Which one?\n\n1. Apples\n2. Pears"]


def test_choices_without_text() -> None:
    assert bodies(Prompt("", choices=(Choice("yes", "Yes"),))) == ["1. Yes"]


def test_1600_characters_fit_one_part_unnumbered() -> None:
    text = "a" * 1600

    assert bodies(Prompt(text)) == [text]


def test_long_text_is_split_into_numbered_parts_at_word_ends() -> None:
    words = [f"word{i}" for i in range(700)]  # about 5,500 characters
    parts = bodies(Prompt(" ".join(words)))

    assert len(parts) == 4
    assert all(len(part) <= 1600 for part in parts)
    assert [part.split(" ", 1)[0] for part in parts] == ["(1/4)", "(2/4)", "(3/4)", "(4/4)"]
    assert " ".join(part.split(" ", 1)[1] for part in parts).split() == words


def test_many_parts_still_fit_with_a_longer_counter() -> None:
    parts = bodies(Prompt("x " * 10_000))

    assert len(parts) >= 10
    assert all(len(part) <= 1600 for part in parts)
    assert parts[-1].startswith(f"({len(parts)}/{len(parts)}) ")


def test_long_choices_are_part_of_the_split_text() -> None:
    prompt = Prompt("y " * 800, choices=(Choice("a", "Apples"), Choice("b", "Pears")))
    parts = bodies(prompt)

    assert len(parts) == 2
    assert parts[-1].endswith("1. Apples\n2. Pears")


def test_media_go_with_the_first_part() -> None:
    media = (
        Media("image", "https://cdn.example.com/a.png"),
        Media("document", "https://cdn.example.com/b.pdf"),
    )
    parts = adapter.render(Prompt("z " * 1000, media=media)).parts

    assert parts[0]["media_url"] == [
        "https://cdn.example.com/a.png",
        "https://cdn.example.com/b.pdf",
    ]
    assert parts[1]["media_url"] == []


def test_more_than_ten_media_get_parts_of_their_own() -> None:
    media = tuple(Media("image", f"https://cdn.example.com/{i}.png") for i in range(12))
    parts = adapter.render(Prompt("Pictures", media=media)).parts

    assert [len(part["media_url"]) for part in parts] == [10, 2]
    assert [part["body"] for part in parts] == ["Pictures", ""]


def test_render_is_pure() -> None:
    prompt = Prompt("Same", choices=(Choice("a", "A"),))

    assert adapter.render(prompt) == adapter.render(prompt)


# --- control words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        " Stop \n",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "REVOKE",
        "optout",
    ],
)
def test_opt_out_words(body: str) -> None:
    assert control_word(body) == "opt_out"


@pytest.mark.parametrize("body", ["START", "yes", " Unstop "])
def test_opt_in_words(body: str) -> None:
    assert control_word(body) == "opt_in"


@pytest.mark.parametrize(
    "body", ["", "HELP", "info", "stop please", "please stop", "STOP.", "stopped", "1", None]
)
def test_other_messages_are_ordinary_text(body: str | None) -> None:
    assert control_word(body) is None


@pytest.mark.parametrize(
    ("opt_out_type", "body", "expected"),
    [
        ("STOP", "halt", "opt_out"),
        ("START", "resume", "opt_in"),
        ("HELP", "HELP", "help"),
        ("stop", "x", "opt_out"),
        ("SOMETHING", "stop", "opt_out"),
        ("", "hi", None),
    ],
)
def test_opt_out_type_wins_when_present(
    opt_out_type: str, body: str, expected: str | None
) -> None:
    assert control_word(body, opt_out_type) == expected


# --- parsing ----------------------------------------------------------------------------------


def test_an_sms_becomes_an_inbound() -> None:
    params = sms_params(from_="+15551230001", to="+15005550006", body="STOP")
    inbound = parse_sms(MultiDict(params))

    assert inbound.channel == "twilio"
    assert inbound.message_id == params["MessageSid"]
    assert inbound.identity == "+15551230001"
    assert inbound.text == "STOP"
    assert inbound.control == "opt_out"
    assert inbound.display_name is None
    assert inbound.media == ()


def test_an_mms_carries_its_media() -> None:
    params = sms_params(
        from_="+447700900123",
        to="+15005550006",
        body="",
        media=[
            ("https://api.twilio.com/m/ME1", "image/jpeg"),
            ("https://api.twilio.com/m/ME2", "application/pdf"),
        ],
    )
    inbound = parse_sms(MultiDict(params))

    assert inbound.text is None
    assert inbound.media == (
        Media("image", "https://api.twilio.com/m/ME1", "image/jpeg"),
        Media("document", "https://api.twilio.com/m/ME2", "application/pdf"),
    )


def test_a_help_message_is_ordinary_text_unless_twilio_marks_it() -> None:
    plain = parse_sms(MultiDict(sms_params(from_="+15551230001", to="+1500", body="HELP")))
    marked = parse_sms(
        MultiDict(sms_params(from_="+15551230001", to="+1500", body="HELP", opt_out_type="HELP"))
    )

    assert (plain.control, plain.text) == (None, "HELP")
    assert (marked.control, marked.text) == ("help", "HELP")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+15551230001", "+15551230001"),
        ("+1 (555) 123-0001", "+15551230001"),
        ("whatsapp:+15551230001", "whatsapp:+15551230001"),
        ("12345", "12345"),  # a short code stays as Twilio sent it
        ("+1555", "+1555"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert normalise_number(raw) == expected


def test_a_status_callback_becomes_a_delivery_update() -> None:
    update = parse_status(
        MultiDict({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    )

    assert (update.channel, update.platform_id, update.status, update.error_code) == (
        "twilio",
        "SM1",
        "undelivered",
        "30003",
    )


# --- errors -----------------------------------------------------------------------------------


def rest_error(status: int, code: int) -> TwilioRestException:
    return TwilioRestException(status, "/Messages.json", "Unable to create record", code, "POST")


def test_error_mapping() -> None:
    opted_out = send_error(rest_error(400, 21610), None)
    limited = send_error(rest_error(429, 20429), 4.0)
    limited_default = send_error(rest_error(429, 20429), None)
    unavailable = send_error(rest_error(503, 20503), 2.0)
    server = send_error(rest_error(500, 20500), None)
    invalid = send_error(rest_error(400, 21211), None)
    landline = send_error(rest_error(400, 21614), None)
    other = send_error(rest_error(400, 21602), None)

    assert isinstance(opted_out, Unreachable)
    assert opted_out.code == "opted_out"
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 4.0
    assert isinstance(limited_default, RateLimited)
    assert limited_default.retry_after == 1.0
    assert isinstance(unavailable, RateLimited)
    assert unavailable.retry_after == 2.0
    assert type(server) is SendError
    assert server.retryable is True
    assert isinstance(invalid, Unreachable)
    assert invalid.code == "21211"
    assert isinstance(landline, Unreachable)
    assert landline.code == "21614"
    assert type(other) is SendError
    assert other.retryable is False
    assert other.code == "21602"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("86400", 3600.0),
        ("-4", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_header(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_as_a_date() -> None:
    seconds = parse_retry_after(formatdate(time() + 120, usegmt=True))

    assert seconds is not None
    assert 100 < seconds <= 120
