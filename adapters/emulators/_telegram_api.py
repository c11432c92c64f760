"""The Telegram emulator's Bot API: `/bot{token}/{method}`, answered like api.telegram.org."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from adapters.emulators._recorder import decode_json_fields
from adapters.emulators._telegram_chats import TelegramChats
from adapters.emulators._telegram_payloads import chat_payload, file_ids

__all__ = ["MAX_TEXT", "TelegramBotApi"]

MAX_TEXT = 4096

# Parameters whose values are plain strings; everything else a client may JSON-encode.
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "ip_address",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "animation",
        "sticker",
        "thumbnail",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "title",
        "description",
        "name",
        "short_description",
        "emoji",
        "question",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "address",
        "file_id",
        "language_code",
        "payload",
        "currency",
        "result_id",
        "custom_title",
        "data",
    }
)
_SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendMediaGroup",
        "sendChatAction",
        "sendPoll",
        "sendDice",
        "sendVenue",
        "sendVideoNote",
        "copyMessage",
        "forwardMessage",
    }
)
_ERROR_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


_Answer = tuple[int, Any]
"""(HTTP status, result or error description)."""


class TelegramBotApi(TelegramChats):
    """The Bot API's methods over the emulator's state; faults and recording come from
    `Emulator`."""

    def __init__(
        self, token: str | None = None, *, first_name: str = "EmuBot", username: str = "emu_bot"
    ) -> None:
        super().__init__(token, first_name=first_name, username=username)
        self._handlers: dict[str, Callable[[str, dict[str, Any]], _Answer]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageReplyMarkup": self._edit_message,
            "editMessageText": self._edit_message,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getFile": self._get_file,
        }
        # Bot API method names are case-insensitive; calls are recorded under the usual name.
        self._names_by_lower = {
            name.lower(): name for name in (*self._handlers, *_SEND_METHODS, "getUpdates")
        }

    # --- the API -------------------------------------------------------------------------

    def _setup(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.on_startup.append(self._on_startup)

    async def _on_startup(self, app: web.Application) -> None:
        self._closing = False
        self._new_updates = asyncio.Event()

    async def _on_shutdown(self, app: web.Application) -> None:
        await super()._on_shutdown(app)
        self._closing = True
        self._new_updates.set()  # long polls answer now, so the server can close

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        asked = request.match_info["method"]
        name = self._names_by_lower.get(asked.lower(), asked)
        params = await _read_params(request)
        if (self.token is not None and token != self.token) or ":" not in token:
            return self._answer(name, params, (401, "Unauthorized"))
        fault = self._take_fault(name)
        if fault is not None:
            return await self._apply_fault(fault, name, params)
        if name in _SEND_METHODS:
            chat_id = _int(params.get("chat_id"))
            if chat_id is None:
                return self._answer(name, params, (400, "Bad Request: chat not found"))
            if chat_id in self.blocked:
                return self._answer(name, params, (403, _ERROR_TEXT[403]))
            limited = self._over_limit(name, str(chat_id))
            if limited is not None:
                return await self._apply_fault(limited, name, params)
        if name == "getUpdates":
            return await self._get_updates(params)
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._send_other if name in _SEND_METHODS else self._generic
        return self._answer(name, params, handler(token, params))

    def _get_file(self, token: str, params: dict[str, Any]) -> _Answer:
        file_id = str(params.get("file_id") or "")
        data = self.files.get(file_id)
        if data is None:
            return 400, "Bad Request: invalid file_id"
        return 200, {
            "file_id": file_id,
            "file_unique_id": file_id[-16:],
            "file_size": len(data),
            "file_path": f"files/{file_id}",
        }

    async def _download(self, request: web.Request) -> web.StreamResponse:
        token, path = request.match_info["token"], request.match_info["path"]
        params: dict[str, Any] = {"file_path": path}
        fault = self._take_fault("file")
        if fault is not None:
            return await self._apply_fault(fault, "file", params)
        data = self.files.get(path.removeprefix("files/"))
        if (self.token is not None and token != self.token) or data is None:
            self._record("file", params, 404, None)
            return web.Response(status=404, text="Not Found")
        self._record("file", params, 200, None)
        return web.Response(body=data, content_type="application/octet-stream")

    def _answer(self, method: str, params: dict[str, Any], answer: _Answer) -> web.Response:
        status, result = answer
        if status == 200:
            body: dict[str, Any] = {"ok": True, "result": result}
        else:
            body = {"ok": False, "error_code": status, "description": result}
        recipient = text = None
        if method in _SEND_METHODS:
            recipient = str(params.get("chat_id"))
            text = params.get("text", params.get("caption"))
        self._record(method, params, status, body, recipient=recipient, text=text)
        return web.json_response(body, status=status)

    def _fault_response(self, status: int, retry_after: int) -> tuple[web.Response, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": status}
        if status == 429:
            body["description"] = f"Too Many Requests: retry after {retry_after}"
            body["parameters"] = {"retry_after": retry_after}
        elif status >= 500:
            body["description"] = "Internal Server Error"
        else:
            body["description"] = _ERROR_TEXT.get(status, "Bad Request")
        return web.json_response(body, status=status), body

    def _generic(self, token: str, params: dict[str, Any]) -> _Answer:
        return 200, True

    def _get_me(self, token: str, params: dict[str, Any]) -> _Answer:
        me = self._bot_user(token)
        me.update(
            can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=False
        )
        return 200, me

    def _new_message(self, token: str, chat_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.next_message_id(chat_id),
            "from": self._bot_user(token),
            "chat": chat_payload(chat_id, self._names.get(chat_id, "Customer")),
            "date": int(time.time()),
        }
        message.update(fields)
        self.messages[chat_id, message["message_id"]] = message
        return message

    def _send_message(self, token: str, params: dict[str, Any]) -> _Answer:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return 400, "Bad Request: message text is empty"
        if len(text) > MAX_TEXT:
            return 400, "Bad Request: message is too long"
        fields: dict[str, Any] = {"text": text}
        _copy_optional(params, fields, "entities")
        _copy_markup(params, fields)
        return 200, self._new_message(token, _int(params["chat_id"]) or 0, fields)

    def _send_photo(self, token: str, params: dict[str, Any]) -> _Answer:
        photo = params.get("photo")
        if not photo:
            return 400, "Bad Request: there is no photo in the request"
        seed = photo if isinstance(photo, str) else json.dumps(photo, sort_keys=True)
        file_id, unique = file_ids(seed)
        sizes = [
            {
                "file_id": f"{file_id}{tag}",
                "file_unique_id": f"{unique}{tag}",
                "file_size": side * side // 8,
                "width": side,
                "height": side,
            }
            for tag, side in (("s", 90), ("m", 320), ("x", 800))
        ]
        fields: dict[str, Any] = {"photo": sizes}
        _copy_optional(params, fields, "caption", "caption_entities")
        _copy_markup(params, fields)
        return 200, self._new_message(token, _int(params["chat_id"]) or 0, fields)

    def _send_document(self, token: str, params: dict[str, Any]) -> _Answer:
        document = params.get("document")
        if not document:
            return 400, "Bad Request: there is no document in the request"
        if isinstance(document, dict):
            name, mime, size = (
                document.get("file_name", "file"),
                document.get("content_type", "application/octet-stream"),
                document.get("size", 0),
            )
        else:
            name, mime, size = str(document).rsplit("/", 1)[-1], "application/octet-stream", 0
        file_id, unique = file_ids(json.dumps(document, sort_keys=True))
        fields: dict[str, Any] = {
            "document": {
                "file_id": file_id,
                "file_unique_id": unique,
                "file_name": name,
                "mime_type": mime,
                "file_size": size,
            }
        }
        _copy_optional(params, fields, "caption", "caption_entities")
        _copy_markup(params, fields)
        return 200, self._new_message(token, _int(params["chat_id"]) or 0, fields)

    def _send_other(self, token: str, params: dict[str, Any]) -> _Answer:
        if params.get("action") is not None:  # sendChatAction
            return 200, True
        fields = {
            key: value
            for key, value in params.items()
            if key in ("text", "caption", "latitude", "longitude", "phone_number")
        }
        return 200, self._new_message(token, _int(params["chat_id"]) or 0, fields)

    def _send_media_group(self, token: str, params: dict[str, Any]) -> _Answer:
        media = params.get("media")
        if not isinstance(media, list) or not media:
            return 400, "Bad Request: media must be a non-empty array"
        chat_id = _int(params["chat_id"]) or 0
        group = str(time.time_ns())
        messages = []
        for item in media:
            fields: dict[str, Any] = {"media_group_id": group}
            if isinstance(item, dict) and item.get("caption"):
                fields["caption"] = item["caption"]
            messages.append(self._new_message(token, chat_id, fields))
        return 200, messages

    def _answer_callback_query(self, token: str, params: dict[str, Any]) -> _Answer:
        if not params.get("callback_query_id"):
            return 400, (
                "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        return 200, True

    def _edit_message(self, token: str, params: dict[str, Any]) -> _Answer:
        if params.get("inline_message_id"):
            return 200, True
        chat_id, message_id = _int(params.get("chat_id")), _int(params.get("message_id"))
        message = self.messages.get((chat_id or 0, message_id or 0))
        if message is None:
            return 400, "Bad Request: message to edit not found"
        if "text" in params:
            message["text"] = params["text"]
        message.pop("reply_markup", None)
        _copy_markup(params, message)
        message["edit_date"] = int(time.time())
        return 200, message

    def _set_webhook(self, token: str, params: dict[str, Any]) -> _Answer:
        if not params.get("url"):
            return self._delete_webhook(token, params)
        self.webhook = dict(params)
        return 200, True

    def _delete_webhook(self, token: str, params: dict[str, Any]) -> _Answer:
        self.webhook = {}
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return 200, True

    def _get_webhook_info(self, token: str, params: dict[str, Any]) -> _Answer:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook:
            info["max_connections"] = self.webhook.get("max_connections", 40)
        return 200, info

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook:
            return self._answer(
                "getUpdates",
                params,
                (
                    409,
                    "Conflict: can't use getUpdates "
                    "method while webhook is active; use deleteWebhook to delete "
                    "the webhook first",
                ),
            )
        offset = _int(params.get("offset")) or 0
        limit = min(max(_int(params.get("limit")) or 100, 1), 100)
        timeout = max(_int(params.get("timeout")) or 0, 0)
        self._record("getUpdates", params, 200)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if offset > 0:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()  # confirmed by the offset
                updates = list(itertools.islice(self._updates, limit))
            elif offset < 0:
                updates = list(self._updates)[offset:][:limit]
            else:
                updates = list(itertools.islice(self._updates, limit))
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or self._closing:
                return web.json_response({"ok": True, "result": updates})
            event = self._new_updates
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return web.json_response({"ok": True, "result": []})


def _copy_optional(params: Mapping[str, Any], fields: dict[str, Any], *names: str) -> None:
    for name in names:
        if params.get(name) is not None:
            fields[name] = params[name]


def _copy_markup(params: Mapping[str, Any], fields: dict[str, Any]) -> None:
    # A Message only carries inline keyboards; reply keyboards are not echoed back.
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        fields["reply_markup"] = markup


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query and body parameters, from urlencoded, multipart or JSON bodies."""
    params = decode_json_fields(request.query.items(), _TEXT_PARAMS)
    if request.method not in ("POST", "PUT") or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.post()
    fields: list[tuple[str, Any]] = []
    for key, value in form.items():
        if isinstance(value, web.FileField):
            content = value.file.read()
            fields.append(
                (
                    key,
                    {
                        "file_name": value.filename,
                        "content_type": value.content_type,
                        "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(),
                    },
                )
            )
        else:
            fields.append((key, value))
    params.update(decode_json_fields(fields, _TEXT_PARAMS))
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = params.pop(value.removeprefix("attach://"), value)
    return params
