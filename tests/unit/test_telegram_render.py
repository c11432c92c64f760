"""Telegram rendering and update parsing: pure functions, no network."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.methods import SendDocument, SendMessage, SendPhoto
from aiogram.methods.base import TelegramMethod
from aiogram.types import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update

from adapters.base import Inbound, Location
from adapters.emulators import callback_payload, update_payload, user_payload
from adapters.telegram import (
    TelegramAdapter,
    inbound_from_update,
    normalise_phone,
    plain_text_inbound,
    render_prompt,
)
from dialogs.prompts import Choice, Media, Prompt

TOKEN = "123456:TEST-token"
GREETING_CHOICES = (
    Choice("order", "Where is my order?"),
    Choice("faq", "A question"),
    Choice("preferences", "My preferences"),
    Choice("agent", "Talk to a person"),
)


def adapter() -> TelegramAdapter:
    return TelegramAdapter(TOKEN, secret="s3cret")


def parse(data: dict[str, Any]) -> Inbound | None:
    return inbound_from_update(Update.model_validate(data), data)


# --- render --------------------------------------------------------------------------------


def test_plain_text_is_one_send_message() -> None:
    rendered = adapter().render(Prompt("Hello"))
    assert rendered.parts == ({"method": "sendMessage", "params": {"text": "Hello"}},)


def test_choices_are_an_inline_keyboard_one_button_per_row() -> None:
    rendered = adapter().render(Prompt("What can I help you with?", choices=GREETING_CHOICES))
    markup = rendered.parts[0]["params"]["reply_markup"]
    assert isinstance(InlineKeyboardMarkup.model_validate(markup), InlineKeyboardMarkup)
    assert rendered.parts == (
        {
            "method": "sendMessage",
            "params": {
                "text": "What can I help you with?",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Where is my order?", "callback_data": "order"}],
                        [{"text": "A question", "callback_data": "faq"}],
                        [{"text": "My preferences", "callback_data": "preferences"}],
                        [{"text": "Talk to a person", "callback_data": "agent"}],
                    ]
                },
            },
        },
    )


def test_long_text_is_split_at_4096_and_the_keyboard_goes_on_the_last_part() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(20))
    rendered = render_prompt(Prompt(text, choices=(Choice("ok", "OK"),)))
    assert len(rendered.parts) > 1
    assert all(p["method"] == "sendMessage" for p in rendered.parts)
    assert all(len(p["params"]["text"]) <= 4096 for p in rendered.parts)
    assert [("reply_markup" in p["params"]) for p in rendered.parts] == (
        [False] * (len(rendered.parts) - 1) + [True]
    )
    assert " ".join(" ".join(p["params"]["text"].split()) for p in rendered.parts) == " ".join(
        text.split()
    )


def test_more_choices_than_the_limit_are_numbered_text() -> None:
    choices = tuple(Choice(f"c{i}", f"Option {i}") for i in range(1, 12))
    assert len(choices) > TelegramAdapter.limits.max_choices
    rendered = adapter().render(Prompt("Pick one", choices=choices))
    (part,) = rendered.parts
    assert "reply_markup" not in part["params"]
    assert part["params"]["text"].startswith("Pick one\n\n1. Option 1\n2. Option 2\n")
    assert part["params"]["text"].endswith("11. Option 11")


def test_a_value_over_64_bytes_cannot_be_callback_data_so_choices_are_numbered() -> None:
    long_value = "\u20ac" * 22  # 22 characters, 66 bytes in UTF-8
    rendered = render_prompt(
        Prompt("Which?", choices=(Choice("short", "Short"), Choice(long_value, "Euro")))
    )
    (part,) = rendered.parts
    assert part["params"] == {"text": "Which?\n\n1. Short\n2. Euro"}
    exactly_64 = "x" * 64
    rendered = render_prompt(Prompt("Which?", choices=(Choice(exactly_64, "X"),)))
    assert rendered.parts[0]["params"]["reply_markup"]["inline_keyboard"] == [
        [{"text": "X", "callback_data": exactly_64}]
    ]


def test_request_contact_is_a_one_time_reply_keyboard() -> None:
    rendered = render_prompt(Prompt("Tap to share your number", meta={"request_contact": True}))
    (part,) = rendered.parts
    markup = part["params"]["reply_markup"]
    assert markup == {
        "keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }
    keyboard = ReplyKeyboardMarkup.model_validate(markup)
    assert keyboard.keyboard[0][0].request_contact is True


def test_request_contact_with_choices_adds_them_as_reply_buttons() -> None:
    rendered = render_prompt(
        Prompt(
            "Share?",
            choices=(Choice("no", "Not now"),),
            meta={"request_contact": True, "contact_label": "Share"},
        )
    )
    assert rendered.parts[0]["params"]["reply_markup"]["keyboard"] == [
        [{"text": "Share", "request_contact": True}],
        [{"text": "Not now"}],
    ]


def test_image_with_short_text_is_a_captioned_photo() -> None:
    rendered = render_prompt(
        Prompt(
            "Your parcel",
            choices=(Choice("ok", "OK"),),
            media=(Media("image", "https://example.com/p.jpg"),),
        )
    )
    assert rendered.parts == (
        {
            "method": "sendPhoto",
            "params": {
                "photo": "https://example.com/p.jpg",
                "caption": "Your parcel",
                "reply_markup": {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]},
            },
        },
    )


def test_document_with_long_text_is_a_document_then_the_text() -> None:
    text = "Invoice details. " * 100  # over the 1024-character caption limit
    rendered = render_prompt(
        Prompt(
            text,
            media=(Media("document", "tg-file:BQACAgIAAxk", "application/pdf", "invoice.pdf"),),
        )
    )
    assert [p["method"] for p in rendered.parts] == ["sendDocument", "sendMessage"]
    assert rendered.parts[0]["params"] == {"document": "BQACAgIAAxk"}  # a file id, reused
    assert rendered.parts[1]["params"] == {"text": text}


def test_rendered_parts_are_accepted_by_aiogram() -> None:
    prompts = [
        Prompt("Hi", choices=GREETING_CHOICES),
        Prompt("Photo", media=(Media("image", "https://example.com/a.jpg"),)),
        Prompt("Doc", media=(Media("document", "https://example.com/a.pdf"),)),
        Prompt("Share", meta={"request_contact": True}),
    ]
    kinds: dict[str, type[TelegramMethod[Message]]] = {
        "sendMessage": SendMessage,
        "sendPhoto": SendPhoto,
        "sendDocument": SendDocument,
    }
    for prompt in prompts:
        for part in render_prompt(prompt).parts:
            method = kinds[part["method"]].model_validate({"chat_id": 42, **part["params"]})
            assert method.model_dump(exclude_none=True)["chat_id"] == 42


def test_render_is_pure() -> None:
    prompt = Prompt("Hi", choices=GREETING_CHOICES, meta={"x": 1})
    first, second = render_prompt(prompt), render_prompt(prompt)
    assert first == second
    first.parts[0]["params"]["text"] = "changed"
    assert render_prompt(prompt).parts[0]["params"]["text"] == "Hi"


def test_empty_prompt_sends_nothing() -> None:
    assert render_prompt(Prompt("")).parts == ()


# --- parse ---------------------------------------------------------------------------------


def test_text_message() -> None:
    data = update_payload(77, user_id=42, text="hi", first_name="Ada")
    data["message"]["from"]["last_name"] = "Lovelace"
    message = parse(data)
    assert message is not None
    assert (message.channel, message.message_id, message.identity, message.route) == (
        "telegram",
        "77",
        "42",
        "42",
    )
    assert message.text == "hi"
    assert message.display_name == "Ada Lovelace"
    assert message.raw == data
    assert not message.edited


def test_start_with_payload() -> None:
    message = parse(update_payload(1, user_id=42, text="/start ref-2024"))
    assert message is not None
    assert (message.text, message.start_payload) == ("/start", "ref-2024")
    plain = parse(update_payload(2, user_id=42, text="/start"))
    assert plain is not None
    assert (plain.text, plain.start_payload) == ("/start", None)
    addressed = parse(update_payload(4, user_id=42, text="/start@emu_bot  ref-9 "))
    assert addressed is not None
    assert (addressed.text, addressed.start_payload) == ("/start", "ref-9")
    blank = parse(update_payload(5, user_id=42, text="  "))
    assert blank is not None
    assert (blank.text, blank.start_payload) == ("  ", None)
    other = parse(update_payload(3, user_id=42, text="/starter"))
    assert other is not None
    assert (other.text, other.start_payload) == ("/starter", None)


def contact_update(phone: str, owner: int | None, sender: int = 42) -> dict[str, Any]:
    contact: dict[str, Any] = {"phone_number": phone, "first_name": "Ada"}
    if owner is not None:
        contact["user_id"] = owner
    return update_payload(5, user_id=sender, content={"contact": contact})


@pytest.mark.parametrize("phone", ["15551234567", "+15551234567", " +1 555 123 4567 "])
def test_own_contact_is_own_and_normalised(phone: str) -> None:
    message = parse(contact_update(phone, owner=42))
    assert message is not None
    assert message.contact_phone == "+15551234567"
    assert message.contact_is_own is True


def test_someone_elses_contact_is_not_own() -> None:
    message = parse(contact_update("+447700900123", owner=99))
    assert message is not None
    assert (message.contact_phone, message.contact_is_own) == ("+447700900123", False)


def test_contact_without_user_id_is_not_own() -> None:
    message = parse(contact_update("31612345678", owner=None))
    assert message is not None
    assert (message.contact_phone, message.contact_is_own) == ("+31612345678", False)


def test_unparseable_phone_is_kept_as_sent() -> None:
    assert normalise_phone("12") == "12"
    assert normalise_phone("not a number") == "not a number"


def test_photo_takes_the_largest_size_and_the_caption() -> None:
    sizes = [
        {
            "file_id": f"id-{w}",
            "file_unique_id": f"u-{w}",
            "width": w,
            "height": w,
            "file_size": w * 10,
        }
        for w in (90, 800, 320)
    ]
    message = parse(update_payload(6, user_id=42, content={"photo": sizes, "caption": "broken"}))
    assert message is not None
    assert message.text == "broken"
    assert [(m.kind, m.url) for m in message.media] == [("image", "tg-file:id-800")]


def test_document() -> None:
    document = {
        "file_id": "BQAC",
        "file_unique_id": "AgAD",
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
        "file_size": 2048,
    }
    message = parse(update_payload(7, user_id=42, content={"document": document}))
    assert message is not None
    assert message.text is None
    (media,) = message.media
    assert (media.kind, media.url, media.mime_type, media.name) == (
        "document",
        "tg-file:BQAC",
        "application/pdf",
        "invoice.pdf",
    )


def test_location() -> None:
    message = parse(
        update_payload(8, user_id=42, content={"location": {"latitude": 52.37, "longitude": 4.89}})
    )
    assert message is not None
    assert message.location == Location(52.37, 4.89)


def test_callback_query_is_a_choice() -> None:
    message = parse(callback_payload(9, user_id=42, data="order"))
    assert message is not None
    assert (message.message_id, message.identity, message.route, message.choice, message.text) == (
        "9",
        "42",
        "42",
        "order",
        None,
    )


def test_edited_message_is_marked_edited_with_its_own_key() -> None:
    message = parse(update_payload(10, user_id=42, text="hello", edited=True))
    assert message is not None
    assert (message.message_id, message.text, message.edited) == ("10", "hello", True)


@pytest.mark.parametrize(
    "data",
    [
        update_payload(11, user_id=42, text="hi", chat_id=-100123),  # a group
        {
            "update_id": 12,
            "message": {
                **update_payload(12, user_id=7, text="hi")["message"],
                "from": user_payload(7, "Other", is_bot=True),
            },
        },
        {
            "update_id": 13,
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "text": "news",
                "chat": {"id": -1001, "type": "channel", "title": "C"},
            },
        },
        update_payload(
            14,
            user_id=42,
            content={
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "u",
                    "type": "regular",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                }
            },
        ),
        callback_payload(15, user_id=42, data="x", chat_id=-100123),
        {"update_id": 16, "some_future_kind": {"a": 1}},
    ],
    ids=["group", "bot", "channel_post", "sticker", "group_callback", "unknown_kind"],
)
def test_updates_we_do_not_handle_are_none(data: dict[str, Any]) -> None:
    assert parse(data) is None


def test_inbound_survives_the_inbox_json_round_trip() -> None:
    message = parse(contact_update("+15551234567", owner=42))
    assert message is not None
    assert Inbound.from_json(message.to_json()) == message


# --- constructor ---------------------------------------------------------------------------


def test_webhook_mode_without_a_secret_refuses() -> None:
    with pytest.raises(ValueError, match="BATON_TELEGRAM_SECRET"):
        TelegramAdapter(TOKEN, secret=None)
    with pytest.raises(ValueError, match="BATON_TELEGRAM_SECRET"):
        TelegramAdapter(TOKEN, secret="")


def test_bad_secret_characters_and_bad_token_refuse() -> None:
    with pytest.raises(ValueError, match="BATON_TELEGRAM_SECRET"):
        TelegramAdapter(TOKEN, secret="has spaces")
    with pytest.raises(ValueError, match="BATON_TELEGRAM_TOKEN"):
        TelegramAdapter("not-a-token", secret="s")


def test_polling_mode_needs_no_secret() -> None:
    assert TelegramAdapter(TOKEN, secret=None, mode="polling").mode == "polling"


def _plain(text: str = "hi", **user: Any) -> dict[str, Any]:
    update = update_payload(7, user_id=42, text=text)
    update["message"]["from"].update(user)
    return update


def _with(update: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = update
    for key in parents:
        node = node[key]
    node[last] = value
    return update


PLAIN_UPDATES = [
    _plain(),
    _plain("שלום 🙂 <b>&amp;</b>", last_name="Lovelace", username="ada", language_code="nl"),
    _plain("x" * 4096, is_premium=True, last_name=""),
    _with(_plain(), "message.chat.username", "ada"),
]
NOT_PLAIN_UPDATES = [
    update_payload(7, user_id=42, text="/start link-123"),
    update_payload(7, user_id=42, text=" /help"),
    update_payload(7, user_id=42, text="   "),
    update_payload(7, user_id=42, text="hi", chat_id=-100),
    update_payload(7, user_id=42, text="hi", edited=True),
    update_payload(7, user_id=42, content={"caption": "look", "photo": []}),
    update_payload(7, user_id=42, text="see https://x.y", content={"entities": []}),
    callback_payload(8, user_id=42, data="yes"),
    _with(_plain(), "message.from.is_bot", True),
    _with(_plain(), "message.from.id", "42"),
    _with(_plain(), "message.chat.id", 42.0),
    _with(_plain(), "message.date", "today"),
    _with(_plain(), "message.date", -1),
    _with(_plain(), "message.date", 2**63),
    _with(_plain(), "message.text", 5),
    _with(_plain(), "update_id", True),
    _with(_plain(), "message.from.first_name", None),
    _with(_plain(), "message.from.added_to_attachment_menu", True),
    {**_plain(), "edited_message": _plain()["message"]},
]


@pytest.mark.parametrize("update", PLAIN_UPDATES)
def test_a_plain_text_update_reads_as_aiogram_reads_it(update: dict[str, Any]) -> None:
    fast = plain_text_inbound(update)
    assert fast is not None
    assert fast == inbound_from_update(Update.model_validate(update), update)


@pytest.mark.parametrize("update", NOT_PLAIN_UPDATES)
def test_any_other_update_is_left_to_aiogram(update: dict[str, Any]) -> None:
    assert plain_text_inbound(update) is None
