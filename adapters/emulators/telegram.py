"""An emulator of the Telegram Bot API (`/bot{token}/{method}`) and of Telegram's webhook calls.

Point aiogram at it with
`Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))`.
The customer side (`customer_text`, `customer_press`, ...) builds real-format updates and
POSTs them to the bot's webhook with the `X-Telegram-Bot-Api-Secret-Token` header, or queues
them for `getUpdates` when no webhook is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from aiohttp import ClientSession, web

from adapters.emulators._recorder import Emulator, WebhookResult, decode_json_fields, post_webhook

__all__ = ["TelegramEmulator", "callback_payload", "update_payload", "user_payload"]

DEFAULT_BOT_ID = 123456
MAX_TEXT = 4096
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

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


def _chat(chat_id: int, first_name: str) -> dict[str, Any]:
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
        "chat": _chat(user_id if chat_id is None else chat_id, first_name),
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
            "chat": _chat(chat, first_name),
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


def _file_ids(seed: str) -> tuple[str, str]:
    digest = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
    return f"AgAC{digest}", f"AQAD{digest[:12]}"


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


class TelegramEmulator(Emulator):
    """The Telegram Bot API, answering like api.telegram.org.

    Args:
        token: The bot token; other tokens get 401. When None any `<digits>:<text>` token is
            accepted and the bot's id is its digits.
        first_name: The bot's first name (getMe).
        username: The bot's username (getMe).

    Example:
        >>> emu = TelegramEmulator("123456:TEST")
        >>> async with emu.run() as url:
        ...     bot = Bot("123456:TEST", session=AiohttpSession(
        ...         api=TelegramAPIServer.from_base(url)))
    """

    channel: ClassVar[str] = "telegram"
    _fault_exempt: ClassVar[frozenset[str]] = frozenset({"getMe", "getUpdates"})

    def __init__(
        self, token: str | None = None, *, first_name: str = "EmuBot", username: str = "emu_bot"
    ) -> None:
        super().__init__()
        self.token = token
        self.first_name = first_name
        self.username = username
        self.blocked: set[int] = set()
        """Chats whose user blocked the bot: sends to them answer 403."""
        self.webhook: dict[str, Any] = {}
        """The last setWebhook parameters; empty when no webhook is set."""
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        """Every message the bot sent or the customer sent, by (chat_id, message_id)."""
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._names: dict[int, str] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._new_updates = asyncio.Event()
        self._closing = False
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
        }
        # Bot API method names are case-insensitive; calls are recorded under the usual name.
        self._names_by_lower = {
            name.lower(): name for name in (*self._handlers, *_SEND_METHODS, "getUpdates")
        }

    # --- state helpers -------------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        """The user of `chat_id` blocks the bot: sends to them answer 403."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """The user of `chat_id` unblocks the bot."""
        self.blocked.discard(chat_id)

    def next_update_id(self) -> int:
        """A fresh update id, one more than the last."""
        return next(self._update_ids)

    def next_message_id(self, chat_id: int) -> int:
        """A fresh message id in `chat_id` (bot and customer messages share the sequence)."""
        counter = self._message_ids.get(chat_id)
        if counter is None:
            counter = self._message_ids[chat_id] = itertools.count(1)
        return next(counter)

    def enqueue(self, update: Mapping[str, Any]) -> None:
        """Queue an update for `getUpdates` (long polling) and wake waiting pollers."""
        self._updates.append(dict(update))
        self._new_updates.set()
        self._new_updates = asyncio.Event()

    def _bot_id(self, token: str) -> int:
        head = token.split(":", 1)[0]
        return int(head) if head.isdigit() else DEFAULT_BOT_ID

    def _bot_user(self, token: str) -> dict[str, Any]:
        return user_payload(
            self._bot_id(token), self.first_name, username=self.username, is_bot=True
        )

    # --- the API -------------------------------------------------------------------------

    def _setup(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
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
        if name == "getUpdates":
            return await self._get_updates(params)
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._send_other if name in _SEND_METHODS else self._generic
        return self._answer(name, params, handler(token, params))

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
            "chat": _chat(chat_id, self._names.get(chat_id, "Customer")),
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
        file_id, unique = _file_ids(seed)
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
        file_id, unique = _file_ids(json.dumps(document, sort_keys=True))
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

    # --- the customer side ---------------------------------------------------------------

    async def deliver(
        self,
        webhook_url: str | None,
        secret: str | None,
        update: Mapping[str, Any],
        *,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """Deliver an update as Telegram does: POST it to the webhook, or queue it for polling.

        Args:
            webhook_url: Where to POST; when None, the URL registered with setWebhook. When
                neither exists the update is queued for getUpdates (result status 0).
            secret: The X-Telegram-Bot-Api-Secret-Token value; when None, the secret_token
                registered with setWebhook (no header when there is none).
            update: The update JSON, e.g. from `update_payload`.
            session: A client session to reuse.
        """
        url = webhook_url or self.webhook.get("url")
        if not url:
            self.enqueue(update)
            return WebhookResult(0, "")
        token = secret if secret is not None else self.webhook.get("secret_token")
        headers = {"Content-Type": "application/json"}
        if token:
            headers[SECRET_HEADER] = str(token)
        return await post_webhook(url, json.dumps(update), headers, session=session)

    async def _customer_message(
        self,
        webhook_url: str | None,
        secret: str | None,
        *,
        user_id: int,
        first_name: str,
        chat_id: int | None,
        session: ClientSession | None,
        text: str | None = None,
        content: Mapping[str, Any] | None = None,
    ) -> WebhookResult:
        chat = user_id if chat_id is None else chat_id
        self._names.setdefault(chat, first_name)
        update = update_payload(
            self.next_update_id(),
            user_id=user_id,
            text=text,
            first_name=first_name,
            chat_id=chat_id,
            message_id=self.next_message_id(chat),
            content=content,
        )
        self.messages[chat, update["message"]["message_id"]] = update["message"]
        return await self.deliver(webhook_url, secret, update, session=session)

    async def customer_text(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        text: str,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends a text message.

        Args:
            webhook_url: The bot's webhook; see `deliver` for None.
            secret: The secret token header; see `deliver` for None.
            user_id: The customer's Telegram user id (the private chat's id too).
            text: What they type.
            first_name: Their first name.
            chat_id: A group chat instead of the private chat.
            session: A client session to reuse.
        """
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            text=text,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
        )

    async def customer_photo(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        caption: str | None = None,
        file_unique_id: str | None = None,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends a photo (three sizes, smallest first), optionally captioned."""
        file_id, unique = _file_ids(f"photo:{user_id}:{time.time_ns()}")
        unique = file_unique_id or unique
        sizes = [
            {
                "file_id": f"{file_id}{tag}",
                "file_unique_id": f"{unique}{tag}",
                "file_size": w * h // 8,
                "width": w,
                "height": h,
            }
            for tag, w, h in (("s", 90, 67), ("m", 320, 240), ("x", 1280, 960))
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content=content,
        )

    async def customer_document(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends a file."""
        file_id, unique = _file_ids(f"document:{user_id}:{file_name}:{time.time_ns()}")
        content: dict[str, Any] = {
            "document": {
                "file_id": file_id,
                "file_unique_id": unique,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": 2048,
            }
        }
        if caption is not None:
            content["caption"] = caption
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content=content,
        )

    async def customer_contact(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        phone: str,
        contact_user_id: int | Literal["own"] | None = "own",
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer shares a contact card.

        Args:
            webhook_url: As for `customer_text`.
            secret: As for `customer_text`.
            user_id: The sender.
            phone: The card's phone number, as the client sends it ("+1555..." or "1555...").
            contact_user_id: "own" (the sender's own number, as the request_contact button
                sends it), another user's id (a forwarded card), or None (no Telegram account).
            first_name: The sender's and card's first name.
            chat_id: A group chat instead of the private chat.
            session: A client session to reuse.
        """
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        owner = user_id if contact_user_id == "own" else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content={"contact": contact},
        )

    async def customer_location(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        latitude: float,
        longitude: float,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer shares a location."""
        location = {"latitude": latitude, "longitude": longitude}
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content={"location": location},
        )

    async def customer_press(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        data: str,
        message_id: int | None = None,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer presses an inline button (a `callback_query`).

        Args:
            webhook_url: As for `customer_text`.
            secret: As for `customer_text`.
            user_id: Who presses.
            data: The button's callback_data.
            message_id: The bot message carrying the button; the bot's last message in the
                chat when None. A message the emulator sent is included as it was sent.
            first_name: The presser's first name.
            chat_id: A group chat instead of the private chat.
            session: A client session to reuse.
        """
        chat = user_id if chat_id is None else chat_id
        if message_id is None:
            message_id = max(
                (
                    mid
                    for (cid, mid), msg in self.messages.items()
                    if cid == chat and msg["from"].get("is_bot")
                ),
                default=1,
            )
        update = callback_payload(
            self.next_update_id(),
            user_id=user_id,
            data=data,
            message=self.messages.get((chat, message_id)),
            message_id=message_id,
            first_name=first_name,
            chat_id=chat_id,
            bot_id=self._bot_id(self.token or f"{DEFAULT_BOT_ID}:x"),
        )
        return await self.deliver(webhook_url, secret, update, session=session)

    async def customer_edit(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        message_id: int,
        text: str,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer edits one of their earlier messages (an `edited_message`)."""
        update = update_payload(
            self.next_update_id(),
            user_id=user_id,
            text=text,
            first_name=first_name,
            chat_id=chat_id,
            message_id=message_id,
            edited=True,
        )
        return await self.deliver(webhook_url, secret, update, session=session)


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
