"""Channel-neutral prompts -> Bot API calls: pure functions, no I/O.

`render_prompt` gives plain dicts (`{"method": ..., "params": {...}}`), easy to test and to
pickle to a send process; `method_call` turns one into aiogram's method object at send time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiogram.methods import SendAudio, SendDocument, SendMessage, SendPhoto, SendVideo
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from pydantic import ValidationError

from adapters.base import Prompt, Rendered, choices_as_text, split_text
from adapters.errors import SendError
from adapters.telegram.parse import FILE_PREFIX
from dialogs.media import is_location

__all__ = ["MAX_TEXT", "method_call", "render_prompt"]

MAX_TEXT = 4096
"""Telegram's limit on one message's text."""
_MAX_CAPTION = 1024
_MAX_CALLBACK_DATA = 64  # bytes
_METHODS: dict[str, type[TelegramMethod[Message]]] = {
    "sendMessage": SendMessage,
    "sendPhoto": SendPhoto,
    "sendDocument": SendDocument,
    "sendVideo": SendVideo,
    "sendAudio": SendAudio,
}
_MEDIA_METHODS = {
    "image": ("sendPhoto", "photo"),
    "video": ("sendVideo", "video"),
    "audio": ("sendAudio", "audio"),
}


def render_prompt(prompt: Prompt, *, max_choices: int = 10) -> Rendered:
    """The Bot API calls that show `prompt`, each `{"method": ..., "params": {...}}`.

    - Text longer than 4096 characters is split into several messages.
    - Choices become an inline keyboard, one button per row, `callback_data` = the value;
      when there are more than `max_choices`, or a value exceeds Telegram's 64-byte
      callback_data, they are listed as numbered text instead (a typed "2" selects one).
    - `meta["request_contact"]` adds a one-time reply keyboard whose first button shares the
      customer's phone number (label from `meta["contact_label"]`); choices then become
      further buttons of that keyboard, which send their label as text.
    - `meta["request_location"]` does the same with a share-my-location button (label from
      `meta["location_label"]`), for `ask(..., expect=Location)`.
    - Media: an image is a sendPhoto, a video sendVideo, audio sendAudio, anything else
      sendDocument; a text of at most 1024 characters becomes the first one's caption. A file
      Baton keeps (an agent's attachment) is marked "upload": `send` uploads its bytes.
    - The keyboard goes on the last call. `chat_id` is added by `send`.

    Example:
        >>> render_prompt(Prompt("Pick one", choices=(Choice("a", "A"),))).parts[0]["method"]
        'sendMessage'
    """
    text = prompt.text
    choices = prompt.choices
    markup: dict[str, Any] | None = None
    if prompt.meta.get("request_location"):
        label = str(prompt.meta.get("location_label") or "Share my location")
        rows_: list[list[dict[str, Any]]] = [[{"text": label, "request_location": True}]]
        rows_ += [[{"text": c.label}] for c in choices]
        markup = {"keyboard": rows_, "resize_keyboard": True, "one_time_keyboard": True}
    elif prompt.meta.get("request_contact"):
        label = str(prompt.meta.get("contact_label") or "Share my phone number")
        rows: list[list[dict[str, Any]]] = [[{"text": label, "request_contact": True}]]
        rows += [[{"text": c.label}] for c in choices]
        markup = {"keyboard": rows, "resize_keyboard": True, "one_time_keyboard": True}
    elif choices:
        fits = len(choices) <= max_choices and all(
            len(c.value.encode()) <= _MAX_CALLBACK_DATA for c in choices
        )
        if fits:
            markup = {
                "inline_keyboard": [[{"text": c.label, "callback_data": c.value}] for c in choices]
            }
        else:
            listed = choices_as_text(choices)
            text = f"{text}\n\n{listed}" if text.strip() else listed
    elif prompt.meta.get("remove_keyboard"):
        markup = {"remove_keyboard": True}

    parts: list[dict[str, Any]] = []
    caption = text if prompt.media and text.strip() and len(text) <= _MAX_CAPTION else None
    for index, item in enumerate(prompt.media):
        method, field = _MEDIA_METHODS.get(item.kind, ("sendDocument", "document"))
        params: dict[str, Any] = {field: item.url.removeprefix(FILE_PREFIX)}
        if index == 0 and caption is not None:
            params["caption"] = caption
        part: dict[str, Any] = {"method": method, "params": params}
        if is_location(item.url):  # a file Baton keeps: `send` uploads its bytes
            part["upload"] = {"field": field, "name": item.name or f"file-{index + 1}"}
        parts.append(part)
    if caption is None and text.strip():
        parts += [
            {"method": "sendMessage", "params": {"text": chunk}}
            for chunk in split_text(text, MAX_TEXT)
        ]
    if markup is not None:
        if not parts:  # a keyboard needs a message to hang on
            parts.append({"method": "sendMessage", "params": {"text": "\u2026"}})
        parts[-1]["params"]["reply_markup"] = markup
    return Rendered(tuple(parts))


def method_call(chat_id: int | str, part: Mapping[str, Any]) -> TelegramMethod[Message]:
    """aiogram's method object for one rendered part, sent to `chat_id`.

    Raises:
        SendError: The part names no send method Baton makes, or its parameters are wrong
            (permanent, code "render").
    """
    name = part.get("method")
    cls = _METHODS.get(str(name))
    if cls is None:
        raise SendError(f"cannot send a Telegram {name!r} call", retryable=False, code="render")
    params = dict(part.get("params", {}))
    markup = params.get("reply_markup")
    if isinstance(markup, Mapping):
        params["reply_markup"] = (
            InlineKeyboardMarkup.model_validate(markup)
            if "inline_keyboard" in markup
            else ReplyKeyboardMarkup.model_validate(markup)
            if "keyboard" in markup
            else ReplyKeyboardRemove.model_validate(markup)
        )
    try:
        return cls(chat_id=chat_id, **params)
    except ValidationError as exc:
        raise SendError(
            f"bad {name} parameters: {json.dumps(params, default=str)[:200]}: "
            f"{exc.error_count()} errors",
            retryable=False,
            code="render",
        ) from exc
