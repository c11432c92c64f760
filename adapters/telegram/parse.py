"""Telegram updates -> `Inbound`: pure functions, no I/O.

`plain_text_inbound` reads the commonest update (a plain text from a person in a private chat)
straight from its JSON; everything else goes through aiogram's `Update` and
`inbound_from_update`. Only private chats with people are handled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import phonenumbers
from aiogram.types import CallbackQuery, Message, Update

from adapters.base import Inbound, Location, Media

__all__ = ["FILE_PREFIX", "inbound_from_update", "normalise_phone", "plain_text_inbound"]

log = logging.getLogger("baton.telegram")

FILE_PREFIX = "tg-file:"
"""Media of Telegram files are `Media` whose url is this prefix and the file_id."""


def inbound_from_update(update: Update, raw: Mapping[str, Any] | None = None) -> Inbound | None:
    """Normalise an update; None for what Baton does not handle (groups, bots, channels, ...).

    Args:
        update: The parsed update.
        raw: Its JSON, kept on the `Inbound` for audit; dumped from `update` when None.
    """
    if raw is None:
        raw = update.model_dump(mode="json", by_alias=True, exclude_none=True)
    key = str(update.update_id)
    if update.message is not None or update.edited_message is not None:
        edited = update.message is None
        message = update.edited_message if edited else update.message
        assert message is not None
        return _from_message(key, message, raw, edited=edited)
    if update.callback_query is not None:
        return _from_callback(key, update.callback_query, raw)
    kind = next((k for k in raw if k != "update_id"), "unknown")
    log.debug("telegram update %s (%s) ignored", key, kind)
    return None


_LATEST_PLAIN_DATE = 20_000_000_000
"""Unix seconds up to here read the same everywhere; pydantic reads larger ints as
milliseconds (or refuses them), so such dates are left to aiogram's parsing."""
_PLAIN_MESSAGE = frozenset({"message_id", "from", "chat", "date", "text"})
_PLAIN_USER = frozenset(
    {"id", "is_bot", "first_name", "last_name", "username", "language_code", "is_premium"}
)
_PLAIN_CHAT = frozenset({"id", "type", "first_name", "last_name", "username"})


def plain_text_inbound(data: Mapping[str, Any]) -> Inbound | None:
    """The `Inbound` of a plain text message from a person in a private chat, read straight
    from the update's JSON; None for anything else, which goes through aiogram's `Update`.

    Most updates a bot gets are exactly this, and building aiogram's models for one (Update,
    Message, User, Chat, each with pydantic's post-init work) cost about 8% of the server's CPU
    per message under the benchmark. Only an update of exactly this shape qualifies: the
    fields below and no others, each of the JSON type the Bot API documents, text not a
    /command; the result equals `inbound_from_update(Update.model_validate(data), data)`
    (checked by tests/unit/test_telegram_render.py).
    """
    message = data.get("message")
    update_id = data.get("update_id")
    if len(data) != 2 or type(update_id) is not int or type(message) is not dict:
        return None
    if message.keys() != _PLAIN_MESSAGE:
        return None
    user, chat, text = message["from"], message["chat"], message["text"]
    if (
        type(user) is not dict
        or type(chat) is not dict
        or type(text) is not str
        or not text.strip()
        or text.lstrip().startswith("/")
        or type(message["message_id"]) is not int
        or type(message["date"]) is not int
        or not 0 <= message["date"] <= _LATEST_PLAIN_DATE
        or not user.keys() <= _PLAIN_USER
        or not chat.keys() <= _PLAIN_CHAT
        or chat.get("type") != "private"
        or type(chat.get("id")) is not int
        or type(user.get("id")) is not int
        or user.get("is_bot") is not False
        or type(user.get("first_name")) is not str
        or not all(type(user.get(k, "")) is str for k in ("last_name", "username"))
        or not all(type(chat.get(k, "")) is str for k in ("first_name", "last_name", "username"))
        or type(user.get("language_code", "")) is not str
        or type(user.get("is_premium", False)) is not bool
    ):
        return None
    return Inbound(
        channel="telegram",
        message_id=str(update_id),
        identity=str(user["id"]),
        text=text,
        route=str(chat["id"]),
        display_name=_name(user["first_name"], user.get("last_name")),
        raw=dict(data),
    )


def _from_message(
    key: str, message: Message, raw: Mapping[str, Any], *, edited: bool
) -> Inbound | None:
    user = message.from_user
    if user is None or user.is_bot or message.chat.type != "private":
        log.debug(
            "telegram update %s ignored: %s",
            key,
            "from a bot" if user is not None and user.is_bot else f"a {message.chat.type} chat",
        )
        return None
    text = message.text if message.text is not None else message.caption
    start_payload = None
    if message.text is not None and text and text.strip():
        head, *rest = text.split(maxsplit=1)
        if head.split("@", 1)[0] == "/start":  # "/start@my_bot" in a deep link, too
            text, start_payload = "/start", (rest[0].strip() if rest else None)
    media: list[Media] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        media.append(Media("image", FILE_PREFIX + largest.file_id, "image/jpeg"))
    if message.document is not None:
        doc = message.document
        media.append(Media("document", FILE_PREFIX + doc.file_id, doc.mime_type, doc.file_name))
    if message.video is not None:
        media.append(
            Media(
                "video",
                FILE_PREFIX + message.video.file_id,
                message.video.mime_type,
                message.video.file_name,
            )
        )
    for sound in (message.audio, message.voice):
        if sound is not None:
            media.append(Media("audio", FILE_PREFIX + sound.file_id, sound.mime_type))
    phone, own = None, False
    if message.contact is not None:
        phone = normalise_phone(message.contact.phone_number)
        # Only the request_contact button proves the number is the sender's own.
        own = message.contact.user_id is not None and message.contact.user_id == user.id
    location = (
        Location(message.location.latitude, message.location.longitude)
        if message.location is not None
        else None
    )
    if text is None and not media and phone is None and location is None:
        log.debug("telegram update %s ignored: no text, media, contact or location", key)
        return None
    return Inbound(
        channel="telegram",
        message_id=key,
        identity=str(user.id),
        text=text,
        media=tuple(media),
        contact_phone=phone,
        contact_is_own=own,
        location=location,
        route=str(message.chat.id),
        display_name=_name(user.first_name, user.last_name),
        start_payload=start_payload,
        edited=edited,
        raw=dict(raw),
    )


def _from_callback(key: str, query: CallbackQuery, raw: Mapping[str, Any]) -> Inbound | None:
    user = query.from_user
    chat = query.message.chat if query.message is not None else None
    if user.is_bot or query.data is None or (chat is not None and chat.type != "private"):
        log.debug("telegram callback %s ignored", key)
        return None
    return Inbound(
        channel="telegram",
        message_id=key,
        identity=str(user.id),
        choice=query.data,
        route=str(chat.id) if chat is not None else None,
        display_name=_name(user.first_name, user.last_name),
        raw=dict(raw),
    )


def _name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


def normalise_phone(number: str) -> str:
    """E.164 of a Telegram contact number ("15551234567" or "+1 555 123 4567" -> "+15551234567").

    Telegram clients send the number with or without a leading "+", always in international
    form; a number that cannot be parsed is returned stripped, unchanged otherwise.
    """
    cleaned = number.strip()
    candidate = cleaned if cleaned.startswith("+") else "+" + cleaned
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return cleaned
    if not phonenumbers.is_possible_number(parsed):
        return cleaned
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
