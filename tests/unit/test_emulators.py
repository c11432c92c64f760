"""The platform emulators, exercised through the real SDKs pointed at them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import ClientSession, web
from pytest_aiohttp import AiohttpServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from adapters.emulators import (
    SlackEmulator,
    TelegramEmulator,
    TwilioEmulator,
    event_payload,
    sms_params,
    update_payload,
)
from adapters.emulators.__main__ import build, main

TG_TOKEN = "123456:TEST-token"
TG_SECRET = "hook-secret"
SLACK_TOKEN = "xoxb-0000-emulator"
SLACK_SECRET = "slack-signing-secret"
CUSTOMER = "+15551230001"
OUR_NUMBER = "+15005550006"


class Hook:
    """A webhook endpoint that queues every request it gets."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.put_nowait((dict(request.headers), await request.read()))
        return web.Response(text="ok")

    async def next(self) -> tuple[dict[str, str], bytes]:
        async with asyncio.timeout(5):
            return await self.requests.get()


def form_of(body: bytes) -> dict[str, str]:
    """A urlencoded body as a dict; blank values are kept, since they are signed too."""
    fields = parse_qs(body.decode(), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


async def serve_hook(aiohttp_server: AiohttpServer, path: str = "/hook") -> tuple[Hook, str]:
    hook = Hook()
    app = web.Application()
    app.router.add_post(path, hook.handle)
    server = await aiohttp_server(app)
    return hook, str(server.make_url(path))


# --- Telegram -------------------------------------------------------------------------------


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[TelegramEmulator, str]]:
    emu = TelegramEmulator(TG_TOKEN)
    async with emu.run() as url:
        yield emu, url


@pytest.fixture
async def bot(telegram: tuple[TelegramEmulator, str]) -> AsyncIterator[Bot]:
    bot = Bot(TG_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(telegram[1])))
    yield bot
    await bot.session.close()


async def test_telegram_send_message_returns_a_message(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Track it", callback_data="track"),
            ]
        ]
    )

    me = await bot.get_me()
    first = await bot.send_message(42, "Hello", reply_markup=keyboard)
    second = await bot.send_message(42, "Again")

    assert me.is_bot is True
    assert me.id == 123456
    assert first.text == "Hello"
    assert first.chat.id == 42
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[0][0].callback_data == "track"
    assert second.message_id == first.message_id + 1
    call = await emu.next_call("sendMessage")
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Track it", "callback_data": "track"}]]
    }
    assert emu.sent_to(42) == ["Hello", "Again"]


async def test_telegram_reply_keyboard_is_recorded_but_not_echoed(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Share my phone", request_contact=True)]],
        one_time_keyboard=True,
    )

    message = await bot.send_message(42, "Tap to link your number", reply_markup=keyboard)

    assert message.reply_markup is None
    call = await emu.next_call("sendMessage")
    assert call.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True


async def test_telegram_rate_limit_raises_retry_after(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    emu.fail_next(status=429, retry_after=7)

    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(42, "Hello")
    await bot.send_message(42, "Hello again")

    assert caught.value.retry_after == 7
    assert [call.status for call in emu.calls("sendMessage")] == [429, 200]
    assert emu.sent_to(42) == ["Hello again"]


async def test_telegram_faults_skip_get_me_unless_named(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    emu.fail_next(status=500)

    await bot.get_me()
    with pytest.raises(TelegramServerError):
        await bot.send_message(42, "Hello")


async def test_telegram_blocked_user_raises_forbidden(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    emu.block(42)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(42, "Hello")
    assert emu.sent_to(42) == []


async def test_telegram_wrong_token_is_unauthorized(
    telegram: tuple[TelegramEmulator, str],
) -> None:
    _, url = telegram
    async with ClientSession() as http, http.get(f"{url}/bot999:other/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }


async def test_telegram_accepts_json_bodies_and_any_case_methods(
    telegram: tuple[TelegramEmulator, str],
) -> None:
    emu, url = telegram
    async with (
        ClientSession() as http,
        http.post(
            f"{url}/bot{TG_TOKEN}/sendmessage", json={"chat_id": 7, "text": "hi"}
        ) as response,
    ):
        body = await response.json()

    assert body["ok"] is True
    assert body["result"]["text"] == "hi"
    assert (await emu.next_call()).method == "sendMessage"


async def test_telegram_photo_upload_is_parsed_from_multipart(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    from aiogram.types import BufferedInputFile

    emu, _ = telegram
    message = await bot.send_photo(
        42, BufferedInputFile(b"\x89PNG....", "cat.png"), caption="A cat"
    )

    assert message.photo is not None
    assert message.caption == "A cat"
    call = await emu.next_call("sendPhoto")
    assert call.params["photo"]["file_name"] == "cat.png"
    assert emu.sent_to(42) == ["A cat"]


async def test_telegram_webhook_round_trip_through_aiogram(
    telegram: tuple[TelegramEmulator, str], bot: Bot, aiohttp_server: AiohttpServer
) -> None:
    emu, _ = telegram
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text="Yes", callback_data="yes"),
                ]
            ]
        )
        await message.answer(f"echo: {message.text}", reply_markup=keyboard)

    @dp.callback_query()
    async def pressed(callback: CallbackQuery) -> None:
        assert callback.message is not None
        await callback.answer(f"you chose {callback.data}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token=TG_SECRET).register(app, path="/tg")
    url = str((await aiohttp_server(app)).make_url("/tg"))

    sent = await emu.customer_text(url, TG_SECRET, user_id=42, text="hi", first_name="Ada")
    reply = await emu.next_call("sendMessage")
    pressed_result = await emu.customer_press(url, TG_SECRET, user_id=42, data="yes")
    answer = await emu.next_call("answerCallbackQuery")
    refused = await emu.customer_text(url, "wrong", user_id=42, text="hi")

    assert sent.status == 200
    assert reply.params["text"] == "echo: hi"
    assert reply.response["result"]["chat"]["first_name"] == "Ada"
    assert pressed_result.status == 200
    assert answer.params["text"] == "you chose yes"
    assert refused.status == 401


async def test_telegram_customer_updates_are_valid_aiogram_updates(
    telegram: tuple[TelegramEmulator, str], bot: Bot, aiohttp_server: AiohttpServer
) -> None:
    emu, _ = telegram
    hook, url = await serve_hook(aiohttp_server)

    await emu.customer_text(url, TG_SECRET, user_id=42, text="/start ref-7")
    await emu.customer_photo(url, TG_SECRET, user_id=42, caption="my parcel")
    await emu.customer_document(url, TG_SECRET, user_id=42, file_name="invoice.pdf")
    await emu.customer_contact(url, TG_SECRET, user_id=42, phone="15551230001")
    await emu.customer_contact(
        url, TG_SECRET, user_id=42, phone="+15551230002", contact_user_id=None
    )
    await emu.customer_location(url, TG_SECRET, user_id=42, latitude=51.5, longitude=-0.1)
    await emu.customer_edit(url, TG_SECRET, user_id=42, message_id=1, text="/start ref-8")
    await emu.customer_press(url, TG_SECRET, user_id=42, data="track", message_id=3)

    updates = []
    for _ in range(8):
        headers, body = hook.requests.get_nowait()
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == TG_SECRET
        updates.append(Update.model_validate(json.loads(body), context={"bot": bot}))
    text, photo, document, own, other, location, edit, press = updates
    assert [u.update_id for u in updates] == sorted({u.update_id for u in updates})
    assert text.message is not None
    assert text.message.text == "/start ref-7"
    assert photo.message is not None
    assert photo.message.caption == "my parcel"
    assert photo.message.photo is not None
    assert photo.message.photo[0].file_unique_id
    assert document.message is not None
    assert document.message.document is not None
    assert document.message.document.file_name == "invoice.pdf"
    assert own.message is not None
    assert own.message.contact is not None
    assert own.message.contact.user_id == 42
    assert other.message is not None
    assert other.message.contact is not None
    assert other.message.contact.user_id is None
    assert location.message is not None
    assert location.message.location is not None
    assert edit.edited_message is not None
    assert edit.edited_message.edit_date is not None
    assert press.callback_query is not None
    assert press.callback_query.data == "track"


async def test_telegram_long_polling_with_offsets(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emu.next_call("getUpdates")  # the poll is waiting now

    queued = await emu.customer_text(user_id=42, text="hi")
    first = await poll
    emu.enqueue(update_payload(emu.next_update_id(), user_id=42, text="again"))
    unconfirmed = await bot.get_updates(timeout=0)
    rest = await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    drained = await bot.get_updates(offset=rest[0].update_id + 1, timeout=0)

    assert queued.status == 0
    assert [u.message.text for u in first if u.message] == ["hi"]
    assert len(unconfirmed) == 2
    assert [u.message.text for u in rest if u.message] == ["again"]
    assert drained == []


async def test_telegram_get_updates_conflicts_with_a_webhook(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    from aiogram.exceptions import TelegramConflictError

    emu, _ = telegram
    await bot.set_webhook("https://bot.example.com/tg", secret_token=TG_SECRET)
    info = await bot.get_webhook_info()

    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    await bot.delete_webhook()

    assert info.url == "https://bot.example.com/tg"
    assert emu.webhook == {}


async def test_telegram_hung_call_times_out_the_client(
    telegram: tuple[TelegramEmulator, str],
) -> None:
    emu, url = telegram
    emu.hang_next(method="sendMessage")
    session = AiohttpSession(api=TelegramAPIServer.from_base(url), timeout=0.2)
    impatient = Bot(TG_TOKEN, session=session)
    try:
        with pytest.raises(TelegramNetworkError, match="timeout"):
            await impatient.send_message(42, "Hello")
    finally:
        await session.close()

    call = await emu.next_call("sendMessage")
    assert call.status is None


# --- Twilio ---------------------------------------------------------------------------------

# twilio's AsyncTwilioHttpClient still passes aiohttp.BasicAuth as `auth=`, which aiohttp 3.14
# deprecates; the warnings are attributed to twilio's module.
twilio_sdk_warnings = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[TwilioEmulator, str]]:
    emu = TwilioEmulator()
    async with emu.run() as url:
        yield emu, url


@pytest.fixture
async def twilio_client(twilio: tuple[TwilioEmulator, str]) -> AsyncIterator[Any]:
    emu, url = twilio
    client = Client(emu.account_sid, emu.auth_token, http_client=AsyncTwilioHttpClient())
    client.api.base_url = url
    yield client
    await client.http_client.close()


@twilio_sdk_warnings
async def test_twilio_create_message(
    twilio: tuple[TwilioEmulator, str], twilio_client: Any
) -> None:
    emu, _ = twilio

    message = await twilio_client.messages.create_async(
        to=CUSTOMER,
        from_=OUR_NUMBER,
        body="Hi",
        media_url=["https://example.com/a.jpg", "https://example.com/b.jpg"],
        status_callback="https://bot.example.com/twilio/status",
    )

    assert message.sid.startswith("MM")
    assert len(message.sid) == 34
    assert message.status == "queued"
    assert message.to == CUSTOMER
    assert message.num_media == "2"
    call = await emu.next_call("messages.create")
    assert call.params["MediaUrl"] == ["https://example.com/a.jpg", "https://example.com/b.jpg"]
    assert call.params["StatusCallback"] == "https://bot.example.com/twilio/status"
    assert emu.sent_to(CUSTOMER) == ["Hi"]
    fetched = await twilio_client.messages(message.sid).fetch_async()
    assert fetched.body == "Hi"


@twilio_sdk_warnings
async def test_twilio_wrong_credentials_are_401(twilio: tuple[TwilioEmulator, str]) -> None:
    emu, url = twilio
    client = Client(emu.account_sid, "wrong-token", http_client=AsyncTwilioHttpClient())
    client.api.base_url = url
    try:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=CUSTOMER, from_=OUR_NUMBER, body="Hi")
    finally:
        await client.http_client.close()

    assert caught.value.status == 401
    assert caught.value.code == 20003


@twilio_sdk_warnings
async def test_twilio_stop_opts_out_and_start_opts_back_in(
    twilio: tuple[TwilioEmulator, str], twilio_client: Any, aiohttp_server: AiohttpServer
) -> None:
    emu, _ = twilio
    hook, url = await serve_hook(aiohttp_server, "/twilio/sms")
    public_url = "https://bot.example.com/twilio/sms"

    await emu.customer_sms(url, public_url, from_=CUSTOMER, to=OUR_NUMBER, body="stop please")
    assert emu.opted_out == set()
    stopped = await emu.customer_sms(
        url, public_url, emu.auth_token, from_=CUSTOMER, to=OUR_NUMBER, body=" stop "
    )
    with pytest.raises(TwilioRestException) as caught:
        await twilio_client.messages.create_async(to=CUSTOMER, from_=OUR_NUMBER, body="Hi")
    await emu.customer_sms(url, public_url, from_=CUSTOMER, to=OUR_NUMBER, body="START")
    await twilio_client.messages.create_async(to=CUSTOMER, from_=OUR_NUMBER, body="Welcome back")

    assert stopped.status == 200
    assert caught.value.status == 400
    assert caught.value.code == 21610
    assert emu.sent_to(CUSTOMER) == ["Welcome back"]
    hook.requests.get_nowait()  # "stop please" was forwarded too
    headers, body = hook.requests.get_nowait()
    form = form_of(body)
    validator = RequestValidator(emu.auth_token)
    assert validator.validate(public_url, form, headers["X-Twilio-Signature"]) is True
    assert form["Body"] == " stop "
    assert form["MessageSid"] == form["SmsSid"]
    assert form["NumMedia"] == "0"
    assert form["ApiVersion"] == "2010-04-01"


def test_twilio_mms_params() -> None:
    params = sms_params(
        from_=CUSTOMER,
        to=OUR_NUMBER,
        body="stop please",
        media=[("https://example.com/m.jpg", "image/jpeg")],
    )

    assert params["NumMedia"] == "1"
    assert params["MediaUrl0"] == "https://example.com/m.jpg"
    assert params["MediaContentType0"] == "image/jpeg"
    assert params["MessageSid"].startswith("MM")


@twilio_sdk_warnings
async def test_twilio_rate_limit_and_server_error(
    twilio: tuple[TwilioEmulator, str], twilio_client: Any
) -> None:
    emu, _ = twilio
    emu.fail_next(status=429, retry_after=3)
    emu.fail_next(status=500)

    with pytest.raises(TwilioRestException) as limited:
        await twilio_client.messages.create_async(to=CUSTOMER, from_=OUR_NUMBER, body="1")
    with pytest.raises(TwilioRestException) as broken:
        await twilio_client.messages.create_async(to=CUSTOMER, from_=OUR_NUMBER, body="2")

    assert limited.value.status == 429
    assert limited.value.code == 20429
    assert broken.value.status == 500
    assert emu.sent_to(CUSTOMER) == []


@twilio_sdk_warnings
async def test_twilio_status_callbacks_are_signed(
    twilio_client: Any, aiohttp_server: AiohttpServer
) -> None:
    hook, url = await serve_hook(aiohttp_server, "/twilio/status")
    emu = TwilioEmulator(status_callbacks=True)
    async with emu.run() as base_url:
        twilio_client.api.base_url = base_url
        message = await twilio_client.messages.create_async(
            to=CUSTOMER, from_=OUR_NUMBER, body="Hi", status_callback=url
        )
        received = [await hook.next(), await hook.next()]

    validator = RequestValidator(emu.auth_token)
    statuses = []
    for headers, body in received:
        form = form_of(body)
        assert validator.validate(url, form, headers["X-Twilio-Signature"]) is True
        assert form["MessageSid"] == message.sid
        statuses.append(form["MessageStatus"])
    assert statuses == ["sent", "delivered"]


# --- Slack ----------------------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackEmulator, str]]:
    emu = SlackEmulator(SLACK_TOKEN, team_id="T0001")
    async with emu.run() as url:
        yield emu, url


@pytest.fixture
async def slack_client(slack: tuple[SlackEmulator, str]) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack[1] + "/api/")
    yield client
    if client.session is not None:
        await client.session.close()


async def test_slack_post_message_and_auth_test(
    slack: tuple[SlackEmulator, str], slack_client: AsyncWebClient
) -> None:
    emu, _ = slack

    auth = await slack_client.auth_test()
    posted = await slack_client.chat_postMessage(channel="U0456", text="Hello")
    updated = await slack_client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="Hello!"
    )
    opened = await slack_client.conversations_open(users="U0456")
    user = await slack_client.users_info(user="U0456")

    assert auth["team_id"] == "T0001"
    assert auth["bot_id"] == emu.bot_id
    assert auth["user_id"] == emu.user_id
    assert posted["channel"] == "D0456"
    assert posted["message"]["text"] == "Hello"
    assert updated["message"]["text"] == "Hello!"
    assert opened["channel"]["id"] == "D0456"
    assert user["user"]["id"] == "U0456"
    assert emu.sent_to("U0456") == ["Hello"]
    assert emu.sent_to("D0456") == ["Hello"]
    call = await emu.next_call("chat.postMessage")
    assert call.params == {"channel": "U0456", "text": "Hello"}


async def test_slack_rejects_non_bot_tokens(slack: tuple[SlackEmulator, str]) -> None:
    client = AsyncWebClient(token="xoxp-user-token", base_url=slack[1] + "/api/")
    with pytest.raises(SlackApiError) as caught:
        await client.auth_test()
    assert caught.value.response["error"] == "invalid_auth"


async def test_slack_rate_limit_surfaces_retry_after(
    slack: tuple[SlackEmulator, str], slack_client: AsyncWebClient
) -> None:
    emu, _ = slack
    emu.fail_next(status=429, retry_after=9)

    await slack_client.auth_test()
    with pytest.raises(SlackApiError) as caught:
        await slack_client.chat_postMessage(channel="D0456", text="Hello")

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "9"
    assert caught.value.response["error"] == "ratelimited"


@pytest.fixture
async def bolt_url(
    slack: tuple[SlackEmulator, str], slack_client: AsyncWebClient, aiohttp_server: AiohttpServer
) -> str:
    bolt = AsyncApp(signing_secret=SLACK_SECRET, client=slack_client)

    @bolt.message()
    async def echo(message: dict[str, Any], say: AsyncSay) -> None:
        await say(f"echo: {message['text']}")

    @bolt.action("approve")
    async def approve(ack: Any, body: dict[str, Any], say: AsyncSay) -> None:
        await ack()
        await say(f"approved {body['actions'][0]['value']}")

    async def endpoint(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    return str((await aiohttp_server(app)).make_url("/slack/events"))


async def test_slack_events_and_actions_through_bolt(
    slack: tuple[SlackEmulator, str], bolt_url: str
) -> None:
    emu, _ = slack

    sent = await emu.customer_message(bolt_url, SLACK_SECRET, user="U0456", text="hi")
    reply = await emu.next_call("chat.postMessage")
    pressed = await emu.customer_press(
        bolt_url, SLACK_SECRET, user="U0456", action_id="approve", value="refund-7"
    )
    approval = await emu.next_call("chat.postMessage")
    stale = await emu.customer_message(
        bolt_url, SLACK_SECRET, user="U0456", text="hi", timestamp=int(time.time()) - 301
    )

    assert sent.status == 200
    assert reply.params["text"] == "echo: hi"
    assert reply.params["channel"] == "D0456"
    assert pressed.status == 200
    assert approval.params["text"] == "approved refund-7"
    assert stale.status == 401
    assert emu.sent_to("U0456") == ["echo: hi", "approved refund-7"]


async def test_slack_customer_payloads_are_signed_and_can_be_retries(
    slack: tuple[SlackEmulator, str], aiohttp_server: AiohttpServer
) -> None:
    emu, _ = slack
    hook, url = await serve_hook(aiohttp_server)
    payload = event_payload(team="T0001", user="U0456", text="hi")

    await emu.post_event(url, SLACK_SECRET, payload)
    await emu.post_event(url, SLACK_SECRET, payload, retry_num=1)
    await emu.customer_press(url, SLACK_SECRET, user="U0456", action_id="a", value="v")

    verifier = SignatureVerifier(SLACK_SECRET)
    (first_headers, first), (retry_headers, retry), (press_headers, press) = [
        hook.requests.get_nowait() for _ in range(3)
    ]
    assert verifier.is_valid_request(first, first_headers)
    assert verifier.is_valid_request(retry, retry_headers)
    assert verifier.is_valid_request(press, press_headers)
    assert retry_headers["X-Slack-Retry-Num"] == "1"
    assert retry_headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert json.loads(first)["event_id"] == json.loads(retry)["event_id"]
    event = json.loads(first)["event"]
    assert event["channel_type"] == "im"
    assert event["client_msg_id"]
    action = json.loads(parse_qs(press.decode())["payload"][0])
    assert action["type"] == "block_actions"
    assert action["actions"][0]["action_id"] == "a"


# --- Recording and faults -------------------------------------------------------------------


async def test_next_call_awaits_a_call_made_later(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    later = asyncio.create_task(bot.send_message(42, "later"))

    call = await emu.next_call("sendMessage")

    assert call.params["text"] == "later"
    assert (await later).text == "later"


async def test_next_call_keeps_other_methods_unread(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    await bot.get_me()
    await bot.send_message(42, "one")
    await bot.send_message(42, "two")

    assert (await emu.next_call("sendMessage")).params["text"] == "one"
    assert (await emu.next_call()).method == "getMe"
    assert (await emu.next_call()).params["text"] == "two"
    assert len(emu.calls()) == 3


async def test_next_call_timeout_lists_what_was_seen(
    telegram: tuple[TelegramEmulator, str], bot: Bot
) -> None:
    emu, _ = telegram
    await bot.send_message(42, "Hello")

    with pytest.raises(AssertionError, match=r"no sendPhoto call(.|\n)*sendMessage -> 200"):
        await emu.next_call("sendPhoto", timeout=0.01)


def test_main_builds_each_emulator() -> None:
    import argparse

    def args(platform: str) -> argparse.Namespace:
        return argparse.Namespace(
            platform=platform,
            token=None,
            account_sid="AC1",
            auth_token="t",
            status_callbacks=True,
            team_id="T1",
        )

    assert isinstance(build(args("telegram")), TelegramEmulator)
    twilio = build(args("twilio"))
    assert isinstance(twilio, TwilioEmulator)
    assert twilio.status_callbacks is True
    assert isinstance(build(args("slack")), SlackEmulator)
    with pytest.raises(SystemExit):
        main(["--help"])
