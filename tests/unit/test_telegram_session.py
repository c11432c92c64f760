"""Baton's Telegram session: JSON bodies out, lean sent messages back, errors as aiogram maps them.

Real aiogram and the Telegram emulator over loopback HTTP; a small fake Bot API where an
answer must be malformed on purpose.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web
from pytest_aiohttp import AiohttpClient, AiohttpServer

from adapters.base import Address, DeliveryUpdate, Inbound
from adapters.emulators import TelegramEmulator, update_payload
from adapters.errors import SendError
from adapters.telegram import PATH, TelegramAdapter
from adapters.telegram.session import BatonSession
from dialogs.prompts import Choice, Prompt

TOKEN = "123456:TEST-token"
SECRET = "hook-secret"
USER = 4242


class RecordingEmulator(TelegramEmulator):
    """The emulator, also noting the Content-Type of every Bot API request."""

    def __init__(self) -> None:
        super().__init__(TOKEN)
        self.content_types: list[str] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.content_types.append(request.content_type)
        return await super()._handle(request)


@pytest.fixture
async def emu() -> AsyncIterator[RecordingEmulator]:
    emulator = RecordingEmulator()
    async with emulator.run():
        yield emulator


@pytest.fixture
async def adapter(emu: RecordingEmulator) -> AsyncIterator[TelegramAdapter]:
    assert emu.base_url is not None
    telegram = TelegramAdapter(TOKEN, secret=SECRET, api_base=emu.base_url)
    yield telegram
    await telegram.aclose()


# --- what reaches Telegram -----------------------------------------------------------------


async def test_a_reply_with_buttons_reaches_telegram_as_one_json_object(
    emu: RecordingEmulator, adapter: TelegramAdapter
) -> None:
    prompt = Prompt(
        "What can I help you with?",
        choices=(Choice("order", "Where is my order?"), Choice("agent", "Talk to a person")),
    )

    sent = await adapter.send(Address("telegram", str(USER)), adapter.render(prompt))

    call = await emu.next_call("sendMessage")
    assert emu.content_types == ["application/json"]
    assert dict(call.params) == {
        "chat_id": USER,
        "text": "What can I help you with?",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Where is my order?", "callback_data": "order"}],
                [{"text": "Talk to a person", "callback_data": "agent"}],
            ]
        },
    }
    assert sent.platform_ids == (str(call.response["result"]["message_id"]),)


async def test_each_part_of_a_long_reply_gets_its_own_platform_id(
    emu: RecordingEmulator, adapter: TelegramAdapter
) -> None:
    rendered = adapter.render(Prompt("x" * 5000))

    sent = await adapter.send(Address("telegram", str(USER)), rendered)

    ids = [str(call.response["result"]["message_id"]) for call in emu.calls("sendMessage")]
    assert sent.platform_ids == tuple(ids)
    assert len(set(ids)) == 2


async def test_bot_defaults_enums_and_dates_are_sent_as_the_form_would_send_them(
    emu: RecordingEmulator,
) -> None:
    assert emu.base_url is not None
    session = BatonSession(api=TelegramAPIServer.from_base(emu.base_url))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    try:
        message = await bot.send_message(
            USER,
            "<b>Hi</b>",
            disable_notification=False,
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Open", url="https://example.com")]]
            ),
        )
        await bot.set_webhook("https://bot.example.com/hook", allowed_updates=["message"])
        until = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
        await bot.ban_chat_member(-100123, USER, until_date=until)
    finally:
        await session.close()

    sent, hooked = emu.calls("sendMessage")[0], emu.calls("setWebhook")[0]
    assert dict(sent.params) == {
        "chat_id": USER,
        "text": "<b>Hi</b>",
        "parse_mode": "HTML",
        "disable_notification": False,
        "reply_markup": {"inline_keyboard": [[{"text": "Open", "url": "https://example.com"}]]},
    }
    assert hooked.params["allowed_updates"] == ["message"]
    assert dict(emu.calls("banChatMember")[0].params) == {
        "chat_id": -100123,
        "user_id": USER,
        "until_date": int(until.timestamp()),
    }
    assert message.message_id == sent.response["result"]["message_id"]
    assert message.chat.id == USER
    assert message.bot is bot


async def test_a_request_middleware_someone_registers_still_sees_every_call(
    emu: RecordingEmulator, adapter: TelegramAdapter
) -> None:
    seen: list[str] = []

    async def note(make_request: Any, bot: Any, method: Any) -> Any:
        seen.append(method.__api_method__)
        return await make_request(bot, method)

    adapter._client().session.middleware(note)
    sent = await adapter.send(Address("telegram", str(USER)), adapter.render(Prompt("hi")))

    assert seen == ["sendMessage"]
    assert sent.platform_ids == (
        str((await emu.next_call("sendMessage")).response["result"]["message_id"]),
    )


async def test_an_upload_still_goes_as_multipart(emu: RecordingEmulator) -> None:
    assert emu.base_url is not None
    session = BatonSession(api=TelegramAPIServer.from_base(emu.base_url))
    bot = Bot(TOKEN, session=session)
    try:
        message = await bot.send_photo(
            USER, BufferedInputFile(b"\x89PNG....", "cat.png"), caption="A cat"
        )
    finally:
        await session.close()

    call = emu.calls("sendPhoto")[0]
    assert emu.content_types == ["multipart/form-data"]
    assert call.params["photo"]["file_name"] == "cat.png"
    assert message.message_id == call.response["result"]["message_id"]


def test_the_json_payload_leaves_out_what_the_form_leaves_out() -> None:
    session = BatonSession()
    bot = Bot(TOKEN, session=session)
    method = SendMessage(
        chat_id="@channel", text="hi", reply_to_message_id=None, business_connection_id=""
    )

    assert session.json_payload(bot, method) == {"chat_id": "@channel", "text": "hi"}


# --- odd answers: full validation takes over -----------------------------------------------


Answer = Callable[[], web.Response]


async def fake_api(aiohttp_server: AiohttpServer, answer: Answer) -> str:
    async def handle(request: web.Request) -> web.Response:
        return answer()

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


MESSAGE = {"date": 1700000000, "chat": {"id": USER, "type": "private"}, "text": "hi"}


async def send_once(api: str) -> Any:
    adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
    try:
        return await adapter.send(Address("telegram", str(USER)), adapter.render(Prompt("hi")))
    finally:
        await adapter.aclose()


async def test_an_ok_answer_without_message_id_is_a_clear_retryable_error(
    aiohttp_server: AiohttpServer,
) -> None:
    api = await fake_api(
        aiohttp_server, lambda: web.json_response({"ok": True, "result": MESSAGE})
    )

    with pytest.raises(SendError) as failed:
        await send_once(api)

    assert (failed.value.code, failed.value.retryable) == ("decode", True)


async def test_an_ok_answer_with_a_text_message_id_is_read_by_aiogram(
    aiohttp_server: AiohttpServer,
) -> None:
    result = {**MESSAGE, "message_id": "77"}
    api = await fake_api(aiohttp_server, lambda: web.json_response({"ok": True, "result": result}))

    sent = await send_once(api)

    assert sent.platform_ids == ("77",)


async def test_an_answer_only_the_standard_parser_reads_still_gives_the_message_id(
    aiohttp_server: AiohttpServer,
) -> None:
    # Telegram echoes the text sent: a lone surrogate escape, and a number beyond 64 bits in
    # an entity, are JSON that orjson refuses.
    body = (
        '{"ok": true, "result": {"message_id": 78, "date": 1700000000, '
        '"chat": {"id": 4242, "type": "private"}, "text": "half \\ud83d", '
        '"entities": [{"type": "bold", "offset": 0, "length": 123456789012345678901234567890}]}}'
    )
    api = await fake_api(
        aiohttp_server, lambda: web.Response(text=body, content_type="application/json")
    )

    sent = await send_once(api)

    assert sent.platform_ids == ("78",)


async def test_a_5xx_page_that_is_not_json_is_a_retryable_decode_error(
    aiohttp_server: AiohttpServer,
) -> None:
    api = await fake_api(
        aiohttp_server, lambda: web.Response(status=502, text="<html>Bad Gateway</html>")
    )

    with pytest.raises(SendError) as failed:
        await send_once(api)

    assert (failed.value.code, failed.value.retryable) == ("decode", True)


# --- the webhook -----------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.received: list[Inbound] = []

    async def receive(self, messages: Sequence[Inbound]) -> list[bool]:
        self.received.extend(messages)
        return [True] * len(messages)

    async def delivery_status(self, update: DeliveryUpdate) -> None:
        return None


async def test_webhook_reads_json_that_only_the_standard_parser_accepts(
    aiohttp_client: AiohttpClient,
) -> None:
    adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base="http://127.0.0.1:9")
    sink = Sink()
    app = web.Application()
    app.router.add_routes(adapter.routes(sink))
    client = await aiohttp_client(app)
    update = json.dumps(update_payload(7, user_id=USER, text="hi"))
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}

    plain = await client.post(PATH, data=update.encode(), headers=headers)
    with_bom = await client.post(PATH, data=b"\xef\xbb\xbf" + update.encode(), headers=headers)
    not_json = await client.post(PATH, data=b"{nope", headers=headers)

    assert (plain.status, await plain.json()) == (200, {})
    assert with_bom.status == 200
    assert (not_json.status, await not_json.text()) == (400, "the body is not JSON")
    assert [m.text for m in sink.received] == ["hi", "hi"]
    assert sink.received[0].raw == json.loads(update)
    await adapter.aclose()
