"""Telegram's JSON objects as the emulator sends them: users, chats, updates, callback queries."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_BOT_ID",
    "callback_payload",
    "chat_payload",
    "file_ids",
    "update_payload",
    "user_payload",
]

DEFAULT_BOT_ID = 123456


def user_payload(
    user_id: int, first_name: str = "Ada", *, username: str | None = None, is_bot: bool = False
) -> dict[str, Any]:
    """A Telegram `User` object."""
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username is not None:
        user["username"] = username
    if not is_bot:
        user["language_code"] = "en"
    return user


def chat_payload(chat_id: int, first_name: str) -> dict[str, Any]:
    if chat_id < 0:
        return {
            "id": chat_id,
            "type": "supergroup" if chat_id < -(10**12) else "group",
            "title": f"Group {-chat_id}",
        }
    return {"id": chat_id, "type": "private", "first_name": first_name}


def update_payload(
    update_id: int,
    *,
    user_id: int,
    text: str | None = None,
    first_name: str = "Ada",
    chat_id: int | None = None,
    message_id: int = 1,
    date: int | None = None,
    edited: bool = False,
    content: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A `message` (or `edited_message`) update as Telegram POSTs it to a webhook.

    Args:
        update_id: The update's id; Telegram's increase by one per update.
        user_id: The sender; also the chat id of a private chat.
        text: The message text; a leading "/command" gets its bot_command entity.
        first_name: The sender's first name.
        chat_id: The chat, when not the private chat with the sender (negative for groups).
        message_id: The message's id in its chat.
        date: Unix time; now when None.
        edited: Make it an `edited_message` with `edit_date`.
        content: Other Message fields, e.g. {"photo": [...], "caption": "..."}.

    Example:
        >>> update = update_payload(1, user_id=42, text="hi")
    """
    now = int(time.time()) if date is None else date
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": user_payload(user_id, first_name),
        "chat": chat_payload(user_id if chat_id is None else chat_id, first_name),
        "date": now,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if content:
        message.update(content)
    if edited:
        message["edit_date"] = now + 1
        return {"update_id": update_id, "edited_message": message}
    return {"update_id": update_id, "message": message}


def callback_payload(
    update_id: int,
    *,
    user_id: int,
    data: str,
    message: Mapping[str, Any] | None = None,
    message_id: int = 1,
    first_name: str = "Ada",
    chat_id: int | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    callback_id: str | None = None,
) -> dict[str, Any]:
    """A `callback_query` update: the customer pressed an inline button.

    Args:
        update_id: The update's id.
        user_id: Who pressed.
        data: The button's callback_data.
        message: The bot message carrying the button; a minimal one is made when None.
        message_id: That message's id (when `message` is None).
        first_name: The presser's first name.
        chat_id: The chat of the message; the presser's private chat when None.
        bot_id: The bot's user id (the `from` of a made-up message).
        callback_id: The query id; derived from update_id when None.
    """
    chat = user_id if chat_id is None else chat_id
    if message is None:
        message = {
            "message_id": message_id,
            "from": user_payload(bot_id, "EmuBot", username="emu_bot", is_bot=True),
            "chat": chat_payload(chat, first_name),
            "date": int(time.time()),
            "text": "",
        }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": callback_id or str(4_000_000_000_000 + update_id),
            "from": user_payload(user_id, first_name),
            "message": dict(message),
            "chat_instance": str(-abs(hash(chat)) % 10**18),
            "data": data,
        },
    }


def file_ids(seed: str) -> tuple[str, str]:
    digest = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
    return f"AgAC{digest}", f"AQAD{digest[:12]}"
