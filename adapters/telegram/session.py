"""The HTTP session Baton's Telegram channel gives aiogram: JSON bodies and lean replies.

aiogram's stock `AiohttpSession` sends every call as a urlencoded form (each nested object
JSON-encoded, then URL-quoted) and reads every answer with full pydantic validation of the
`Message` Telegram echoes back. Profiled under the project benchmark, a reply spent about a
fifth of the server's CPU per message inside `Bot.__call__`, of which form building was ~4% and
validating the echoed message ~4-6%, although Baton keeps only the new message's id.

`BatonSession` is aiogram's documented extension point (a subclass of `AiohttpSession`):

- A call that carries no file goes out as one JSON body (`Content-Type: application/json`),
  which the Bot API accepts for every method, nested objects such as `reply_markup` as JSON
  objects. Values are prepared by aiogram's own `prepare_value` (bot defaults, enums, dates,
  nested Telegram objects), so the request says what the form would have said. A call with an
  `InputFile` (an upload) goes through aiogram's multipart path unchanged.
- A successful answer (2xx, `"ok": true`) to the send methods Baton uses (`LEAN_METHODS`)
  becomes a lean `Message`: only `message_id`, `date` and `chat` (`id`, `type`), checked by
  hand and copied into a prepared `Message` without validation. An answer that does not look
  like that, every other method and every error answer go through aiogram's `check_response`,
  so a refusal still raises `TelegramRetryAfter`, `TelegramForbiddenError`,
  `TelegramBadRequest`, `TelegramServerError` or `ClientDecodeError` exactly as before.

Measured with `python -m tests.benchmarks.micro_telegram --baseline <stock adapter>` (CPU of
the sending process per `TelegramAdapter.send`, medians of 5 x 3000, loopback emulator in
another process): a plain text 646 -> 506 us, a text with an inline keyboard 856 -> 606 us.
Most of what remains is aiohttp and the kernel's loopback work.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Final, cast

import orjson
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import SendAudio, SendDocument, SendMessage, SendPhoto, SendVideo
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import Chat, Message
from aiohttp import ClientError, ClientTimeout

if TYPE_CHECKING:
    from aiogram import Bot

__all__ = ["LEAN_METHODS", "BatonSession", "lean_message"]

LEAN_METHODS: Final[frozenset[type[TelegramMethod[Any]]]] = frozenset(
    {SendMessage, SendPhoto, SendDocument, SendVideo, SendAudio}
)
"""Methods whose successful answer becomes a lean `Message` (Baton reads its id only)."""

_JSON_HEADERS: Final = {"Content-Type": "application/json"}

# Lean messages are copies of these, with the answer's values put in. `model_copy` takes ~10 us;
# `model_construct` fills every one of Message's ~80 defaults and took ~450 us, validating
# `Response[Message]` ~40 us.
_MESSAGE: Final = Message.model_validate(
    {"message_id": 0, "date": 0, "chat": {"id": 0, "type": "private"}}
)
_CHAT: Final = _MESSAGE.chat
_UTC = datetime.UTC
_CHATS_KEPT = 4096
"""Lean chats a session keeps for reuse (a `Chat` is immutable; a copy costs ~3 us)."""


class BatonSession(AiohttpSession):
    """`AiohttpSession` that sends JSON bodies and reads sent messages without full validation.

    Takes the same arguments as `AiohttpSession` (e.g. `api=TelegramAPIServer.from_base(url)`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chats: dict[tuple[int, int, str], Chat] = {}
        self._timeouts: dict[float, ClientTimeout] = {}

    def json_payload(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
        """The call's parameters as a JSON object; None when it uploads a file.

        Mirrors `AiohttpSession.build_form_data`: the same `prepare_value` per field, and the
        fields the form would drop (None, empty text) are left out. The fields are read off the
        method as they are (`prepare_value` dumps nested Telegram objects and turns dates into
        unix times itself), which skips a `model_dump` of the whole method (~20 us a call).
        """
        files: dict[str, Any] = {}
        payload: dict[str, Any] = {}
        prepare = self.prepare_value
        for key, value in method:  # declared fields, then any extra ones, as model_dump does
            if value is None:
                continue
            prepared = prepare(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue
            if isinstance(value, datetime.datetime | datetime.timedelta):
                prepared = int(prepared)  # prepare_value gives the unix time as text
            payload[key] = prepared
        return None if files else payload

    async def __call__(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,
    ) -> TelegramType:
        """As aiogram's: through the request middlewares, straight to `make_request` when
        none is registered (Baton registers none; the wrapping costs CPU on every call)."""
        if len(self.middleware) == 0:
            return await self.make_request(bot, method, timeout)
        return await super().__call__(bot, method, timeout)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,
    ) -> TelegramType:
        """Make `method`; as `AiohttpSession.make_request`, with a JSON body and lean answers.

        Raises:
            TelegramAPIError: Telegram refused the call (subclasses as aiogram maps them).
            TelegramNetworkError: A timeout or connection error.
            ClientDecodeError: The answer is not JSON or not a Bot API answer.
        """
        payload = self.json_payload(bot, method)
        if payload is None:  # an upload: multipart, as aiogram does it
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        body = self.json_dumps(payload).encode()
        total = float(self.timeout if timeout is None else timeout)
        client_timeout = self._timeouts.get(total)
        if client_timeout is None:
            client_timeout = self._timeouts[total] = ClientTimeout(total=total)
        try:
            async with session.post(
                url, data=body, headers=_JSON_HEADERS, timeout=client_timeout
            ) as resp:
                raw = await resp.read()
                if 200 <= resp.status <= 226 and type(method) in LEAN_METHODS:
                    message = lean_message(bot, self.json_loads, raw, self._chats)
                    if message is not None:
                        return cast(TelegramType, message)
                raw_result = await resp.text()  # decoded as aiogram's own session does
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)


def lean_message(
    bot: Bot,
    loads: Any,
    content: str | bytes,
    chats: dict[tuple[int, int, str], Chat] | None = None,
) -> Message | None:
    """The sent `Message` of a successful answer, built from the fields Baton reads.

    Returns None, so that aiogram's full validation takes over, unless the answer is
    `{"ok": true, "result": {...}}` with an int `message_id`, an int `date` and a `chat` with an
    int `id` and a str `type`. Only those fields are set on the `Message` (the others are None);
    it and its chat are bound to `bot`, as aiogram's own answer would be. `chats` keeps lean
    chats for reuse (at most 4,096; then it starts over).
    """
    try:
        # orjson reads what it accepts as the standard library would; anything else (a huge
        # int, NaN, a lone surrogate) is left to the session's own `loads`.
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        try:
            data = loads(content)
        except Exception:  # any decoder's error; check_response reports it
            return None
    if type(data) is not dict or data.get("ok") is not True:
        return None
    result = data.get("result")
    if type(result) is not dict:
        return None
    message_id, date, chat = result.get("message_id"), result.get("date"), result.get("chat")
    if type(message_id) is not int or type(date) is not int or type(chat) is not dict:
        return None
    chat_id, chat_type = chat.get("id"), chat.get("type")
    if type(chat_id) is not int or type(chat_type) is not str:
        return None
    try:
        sent_at = datetime.datetime.fromtimestamp(date, tz=_UTC)
    except (OverflowError, OSError, ValueError):
        return None
    key = (id(bot), chat_id, chat_type)
    chat_copy = None if chats is None else chats.get(key)
    if chat_copy is None:
        chat_copy = _CHAT.model_copy(update={"id": chat_id, "type": chat_type}).as_(bot)
        if chats is not None:
            if len(chats) >= _CHATS_KEPT:
                chats.clear()
            chats[key] = chat_copy
    return _MESSAGE.model_copy(
        update={"message_id": message_id, "date": sent_at, "chat": chat_copy}
    ).as_(bot)
