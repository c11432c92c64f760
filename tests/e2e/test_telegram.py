"""The Telegram channel end to end: real HTTP, real aiogram, the Telegram emulator, real Baton.

The emulator plays Telegram both ways: it POSTs updates to Baton's webhook exactly as Telegram
does (JSON body, X-Telegram-Bot-Api-Secret-Token) and answers the Bot API calls aiogram makes.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import pytest
from aiohttp import ClientSession

from adapters.base import Address, Rendered
from adapters.emulators import (
    TelegramEmulator,
    WebhookResult,
    post_webhook,
    update_payload,
    user_payload,
)
from adapters.errors import AdapterError, RateLimited, SendError, Unreachable
from adapters.telegram import PATH, TelegramAdapter
from bot.demo import app
from dialogs.prompts import Media, Prompt
from tests.support.baton import Running, running_baton

TOKEN = "123456:TEST-token"
SECRET = "hook-secret_42"
USER = 4242
FAST = {"outbox_base_delay": 0.05, "outbox_max_delay": 0.2}
GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
GREETING_KEYBOARD = [
    [{"text": "Where is my order?", "callback_data": "order"}],
    [{"text": "A question", "callback_data": "faq"}],
    [{"text": "My preferences", "callback_data": "preferences"}],
    [{"text": "Talk to a person", "callback_data": "agent"}],
]


@dataclass
class Telegram:
    """A running Baton with the Telegram channel, and the emulator it talks to."""

    baton: Running
    emu: TelegramEmulator
    adapter: TelegramAdapter

    @property
    def hook(self) -> str:
        return self.baton.url(PATH)

    async def text(self, text: str, user_id: int = USER) -> WebhookResult:
        return await self.emu.customer_text(self.hook, SECRET, user_id=user_id, text=text)

    async def post(
        self,
        body: bytes | str,
        *,
        secret: str | None = SECRET,
        content_type: str = "application/json",
    ) -> WebhookResult:
        headers = {"Content-Type": content_type}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return await post_webhook(self.hook, body, headers)

    async def customer(self, user_id: int = USER) -> tuple[int, int]:
        found = await self.baton.store.identity("telegram", str(user_id))
        assert found is not None
        return found


@asynccontextmanager
async def telegram_baton(
    database_url: str,
    *,
    mode: Literal["webhook", "polling"] = "webhook",
    public_url: str | None = None,
) -> AsyncIterator[Telegram]:
    emu = TelegramEmulator(TOKEN)
    async with emu.run() as api:
        adapter = TelegramAdapter(
            TOKEN,
            secret=SECRET if mode == "webhook" else None,
            api_base=api,
            mode=mode,
            public_url=public_url,
        )
        async with running_baton(database_url, app, adapters=[adapter], **FAST) as baton:
            yield Telegram(baton, emu, adapter)


async def post_large(url: str, body: bytes) -> int:
    """POST a body over 1 MiB (streamed, so aiohttp does not warn) and return the status."""
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        ClientSession() as session,
        session.post(url, data=io.BytesIO(body), headers=headers) as response,
    ):
        return response.status


async def settled(baton: Running) -> None:
    """Wait until no turn is running and no reply is being sent."""
    await asyncio.wait_for(baton.engine.idle(), 10)


# --- the conversation ----------------------------------------------------------------------


async def test_text_gets_the_greeting_with_an_inline_keyboard(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        result = await tg.text("hi")
        call = await tg.emu.next_call("sendMessage")
        assert [c.method for c in tg.emu.calls("getMe")] == ["getMe"]
    assert (result.status, result.json()) == (200, {})
    assert call.status == 200
    assert call.params["chat_id"] == USER
    assert call.params["text"] == GREETING
    assert call.params["reply_markup"] == {"inline_keyboard": GREETING_KEYBOARD}


async def test_pressing_a_button_continues_the_flow_and_answers_the_callback(
    database_url: str,
) -> None:
    async with telegram_baton(database_url) as tg:
        await tg.text("hi")
        await tg.emu.next_call("sendMessage")
        result = await tg.emu.customer_press(tg.hook, SECRET, user_id=USER, data="order")
        assert result.status == 200
        asked = await tg.emu.next_call("sendMessage")
        answered = await tg.emu.next_call("answerCallbackQuery")
        await tg.text("Ada")
        thanked = await tg.emu.next_call("sendMessage")
    assert asked.params["text"] == "What's your name?"
    assert answered.status == 200
    assert answered.params["callback_query_id"]
    assert thanked.params["text"] == "Thanks, Ada. What's your order number?"


async def test_start_with_a_deep_link_payload_greets(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        result = await tg.text("/start campaign-7")
        call = await tg.emu.next_call("sendMessage")
        await settled(tg.baton)
        _, customer_id = await tg.customer()
        messages = await tg.baton.store.messages(customer_id)
    assert result.status == 200
    assert call.params["text"] == GREETING
    inbound = next(m for m in messages if m.direction == "in")
    assert inbound.payload is not None
    assert inbound.payload["start_payload"] == "campaign-7"


async def test_a_captioned_photo_is_stored_with_its_largest_size(sqlite_url: str) -> None:
    async with telegram_baton(sqlite_url) as tg:
        result = await tg.emu.customer_photo(tg.hook, SECRET, user_id=USER, caption="hi")
        await tg.emu.next_call("sendMessage")
        await settled(tg.baton)
        _, customer_id = await tg.customer()
        messages = await tg.baton.store.messages(customer_id)
    assert result.status == 200
    inbound = next(m for m in messages if m.direction == "in")
    assert inbound.payload is not None
    ((kind, url, *_),) = inbound.payload["media"]
    assert kind == "image"
    assert url.startswith("tg-file:")
    assert url.endswith("x")  # the emulator's 1280x960 size


# --- webhook authentication and input --------------------------------------------------------


async def test_missing_or_wrong_secret_is_401_and_nothing_is_stored(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        update = update_payload(tg.emu.next_update_id(), user_id=USER, text="hi")
        missing = await tg.emu.deliver(tg.hook, "", update)
        wrong = await tg.emu.deliver(tg.hook, "not-the-secret", update)
        prefix = await tg.emu.deliver(tg.hook, SECRET[:-1], update)
        empty = await tg.post(json.dumps(update), secret="")
        inbox = await tg.baton.store.count("inbox")
        sends = tg.emu.calls("sendMessage")
    assert [r.status for r in (missing, wrong, prefix, empty)] == [401, 401, 401, 401]
    assert inbox == 0
    assert sends == []


async def test_odd_text_from_a_new_customer_is_stored_unchanged_and_answered(
    database_url: str,
) -> None:
    odd = ["\x00nul\x00", "<img src=x onerror=alert(1)>", "🙂" * 50, "\u202eevil", "x" * 4096]
    async with telegram_baton(database_url) as tg:
        results = []
        for text in odd:
            results.append(await tg.text(text, user_id=USER + 1))
            await settled(tg.baton)  # each one handled and answered before the next
        _, customer_id = await tg.customer(USER + 1)
        messages = await tg.baton.store.messages(customer_id)
        answers = tg.emu.calls("sendMessage")
    assert [r.status for r in results] == [200] * len(odd)
    assert [m.text for m in messages if m.direction == "in"] == odd
    assert [m.delivery_status for m in messages if m.direction == "out"] == ["sent"] * len(answers)
    assert len(answers) >= len(odd)


async def test_the_same_update_delivered_six_times_is_handled_once(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        update = update_payload(tg.emu.next_update_id(), user_id=USER, text="hi")
        results = await asyncio.gather(
            *(tg.emu.deliver(tg.hook, SECRET, update) for _ in range(5))
        )
        await tg.emu.next_call("sendMessage")
        await settled(tg.baton)
        again = await tg.emu.deliver(tg.hook, SECRET, update)
        await settled(tg.baton)
        sends = tg.emu.calls("sendMessage")
        inbox = await tg.baton.store.count("inbox")
    assert [r.status for r in (*results, again)] == [200] * 6
    assert [c.text for c in sends] == [GREETING]
    assert inbox == 1


async def test_malformed_requests_get_4xx_not_500(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        update = json.dumps(update_payload(tg.emu.next_update_id(), user_id=USER, text="hi"))
        not_json = await tg.post("{not json")
        not_utf8 = await tg.post(b"\xff\xfe{")
        wrong_type = await tg.post(update, content_type="text/plain")
        form = await tg.post("update_id=1", content_type="application/x-www-form-urlencoded")
        array = await tg.post("[1, 2]")
        not_update = await tg.post('{"hello": "world"}')
        bad_message = await tg.post('{"update_id": 5, "message": {"text": "no chat"}}')
        too_big = await post_large(tg.hook, b'{"x": "' + b"a" * (1024 * 1024) + b'"}')
        inbox = await tg.baton.store.count("inbox")
    assert not_json.status == 400
    assert not_utf8.status == 400
    assert wrong_type.status == 415
    assert form.status == 415
    assert array.status == 400
    assert not_update.status == 400
    # A verified update with an id that aiogram cannot read is skipped, not refused: a refusal
    # would make Telegram redeliver it for a day and hold back that chat's later updates.
    assert bad_message.status == 200
    assert too_big == 413
    assert inbox == 0


async def test_updates_we_do_not_handle_are_acknowledged_and_ignored(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        group = await tg.emu.customer_text(
            tg.hook, SECRET, user_id=USER, text="hi", chat_id=-100200300
        )
        from_bot = update_payload(tg.emu.next_update_id(), user_id=777, text="hi")
        from_bot["message"]["from"] = user_payload(777, "Bot", is_bot=True)
        channel_post = {
            "update_id": tg.emu.next_update_id(),
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "text": "news",
                "chat": {"id": -1001, "type": "channel", "title": "News"},
            },
        }
        future_kind = {"update_id": tg.emu.next_update_id(), "a_future_update": {"x": 1}}
        others = [
            await tg.emu.deliver(tg.hook, SECRET, u) for u in (from_bot, channel_post, future_kind)
        ]
        inbox = await tg.baton.store.count("inbox")
    assert [r.status for r in (group, *others)] == [200] * 4
    assert inbox == 0


async def test_an_edited_message_is_recorded_without_a_reply(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        await tg.text("hi")
        await tg.emu.next_call("sendMessage")
        first = max(
            mid
            for (chat, mid), msg in tg.emu.messages.items()
            if chat == USER and not msg["from"]["is_bot"]
        )
        result = await tg.emu.customer_edit(
            tg.hook, SECRET, user_id=USER, message_id=first, text="hello"
        )
        await settled(tg.baton)
        _, customer_id = await tg.customer()
        messages = await tg.baton.store.messages(customer_id)
        sends = tg.emu.calls("sendMessage")
    assert result.status == 200
    assert len(sends) == 1
    inbound = [m for m in messages if m.direction == "in"]
    assert [(m.text, bool((m.payload or {}).get("edited"))) for m in inbound] == [
        ("hi", False),
        ("hello", True),
    ]


# --- outbound failures -----------------------------------------------------------------------


async def test_a_429_is_retried_after_retry_after(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        tg.emu.fail_next(1, status=429, retry_after=1, method="sendMessage")
        await tg.text("hi")
        limited = await tg.emu.next_call("sendMessage")
        delivered = await tg.emu.next_call("sendMessage", timeout=10)
        await settled(tg.baton)
        _, customer_id = await tg.customer()
        rows = await tg.baton.store.outbox(customer_id)
    assert limited.status == 429
    assert (delivered.status, delivered.text) == (200, GREETING)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)]


async def test_a_500_is_retried(database_url: str) -> None:
    async with telegram_baton(database_url) as tg:
        tg.emu.fail_next(2, status=500, method="sendMessage")
        await tg.text("hi")
        statuses = [(await tg.emu.next_call("sendMessage")).status for _ in range(3)]
        await settled(tg.baton)
        _, customer_id = await tg.customer()
        rows = await tg.baton.store.outbox(customer_id)
    assert statuses == [500, 500, 200]
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 3)]


async def test_a_blocked_user_is_marked_unreachable_and_gets_nothing_more(
    database_url: str,
) -> None:
    async with telegram_baton(database_url) as tg:
        tg.emu.block(USER)
        await tg.text("hi")
        refused = await tg.emu.next_call("sendMessage")
        await settled(tg.baton)
        await tg.text("hello?")
        await settled(tg.baton)
        identity_id, customer_id = await tg.customer()
        flags = await tg.baton.store.identity_flags(identity_id)
        rows = await tg.baton.store.outbox(customer_id)
        messages = await tg.baton.store.messages(customer_id)
        sends = tg.emu.calls("sendMessage")
        inbox = await tg.baton.store.count("inbox")
    assert refused.status == 403
    assert len(sends) == 1
    assert flags["unreachable"] is True
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1)]
    assert inbox == 2
    assert [m.delivery_status for m in messages if m.direction == "out"] == ["failed", "not sent"]


async def test_send_maps_telegram_errors() -> None:
    emu = TelegramEmulator(TOKEN)
    async with emu.run() as api:
        adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
        to = Address("telegram", str(USER))
        hello = adapter.render(Prompt("hello"))
        try:
            emu.fail_next(1, status=429, retry_after=3)
            with pytest.raises(RateLimited) as limited:
                await adapter.send(to, hello)
            emu.fail_next(1, status=502)
            with pytest.raises(SendError) as server:
                await adapter.send(to, hello)
            emu.block(USER)
            with pytest.raises(Unreachable) as blocked:
                await adapter.send(to, hello)
            emu.unblock(USER)
            with pytest.raises(Unreachable) as no_chat:
                await adapter.send(Address("telegram", "@nobody_here"), hello)
            too_long = Rendered(({"method": "sendMessage", "params": {"text": "x" * 5000}},))
            with pytest.raises(SendError) as refused:
                await adapter.send(to, too_long)
            sent = await adapter.send(to, hello)
        finally:
            await adapter.aclose()
    assert limited.value.retry_after == 3
    assert server.value.retryable is True
    assert blocked.value.code == "blocked"
    assert no_chat.value.code == "chat_not_found"
    assert (type(refused.value), refused.value.retryable) == (SendError, False)
    assert sent.platform_ids == (
        str(emu.calls("sendMessage")[-1].response["result"]["message_id"]),
    )


async def test_send_network_errors_are_retryable() -> None:
    emu = TelegramEmulator(TOKEN)
    runner, api = await emu.serve()
    await runner.cleanup()  # nothing listens there any more
    adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
    try:
        with pytest.raises(SendError) as failed:
            await adapter.send(Address("telegram", str(USER)), adapter.render(Prompt("hi")))
    finally:
        await adapter.aclose()
    assert failed.value.retryable is True
    assert not isinstance(failed.value, Unreachable | RateLimited)


async def test_photo_document_and_contact_keyboard_go_out_through_aiogram() -> None:
    emu = TelegramEmulator(TOKEN)
    async with emu.run() as api:
        adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
        to = Address("telegram", str(USER), route=str(USER))
        try:
            photo = await adapter.send(
                to,
                adapter.render(
                    Prompt("Your parcel", media=(Media("image", "https://example.com/p.jpg"),))
                ),
            )
            document = await adapter.send(
                to,
                adapter.render(
                    Prompt("Your invoice", media=(Media("document", "https://example.com/i.pdf"),))
                ),
            )
            contact = await adapter.send(
                to,
                adapter.render(Prompt("Tap to share your number", meta={"request_contact": True})),
            )
        finally:
            await adapter.aclose()
    sent_photo = emu.calls("sendPhoto")[0]
    sent_document = emu.calls("sendDocument")[0]
    asked = emu.calls("sendMessage")[0]
    assert (sent_photo.params["photo"], sent_photo.params["caption"]) == (
        "https://example.com/p.jpg",
        "Your parcel",
    )
    assert sent_document.params["document"] == "https://example.com/i.pdf"
    assert asked.params["reply_markup"] == {
        "keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }
    assert all(len(s.platform_ids) == 1 for s in (photo, document, contact))


# --- start-up, webhook registration and polling ---------------------------------------------


async def test_start_registers_the_webhook_with_the_secret(sqlite_url: str) -> None:
    async with telegram_baton(sqlite_url, public_url="https://bot.example.com/") as tg:
        registered = dict(tg.emu.webhook)
        # Telegram now sends the secret it was given; the customer helper uses it.
        result = await tg.emu.customer_text(tg.hook, None, user_id=USER, text="hi")
        call = await tg.emu.next_call("sendMessage")
    assert registered == {
        "url": "https://bot.example.com/webhooks/telegram",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
    assert result.status == 200
    assert call.text == GREETING


async def test_a_rejected_token_fails_start_clearly() -> None:
    emu = TelegramEmulator("999:the-real-token")
    async with emu.run() as api:
        adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
        with pytest.raises(AdapterError, match="rejected the bot token"):
            await adapter.start()
        await adapter.aclose()


async def test_an_unreachable_api_fails_start_clearly() -> None:
    emu = TelegramEmulator(TOKEN)
    runner, api = await emu.serve()
    await runner.cleanup()
    adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
    with pytest.raises(AdapterError, match="cannot start the Telegram channel"):
        await adapter.start()
    await adapter.aclose()


async def test_polling_mode_handles_updates_and_confirms_them(database_url: str) -> None:
    async with telegram_baton(database_url, mode="polling") as tg:
        update = update_payload(tg.emu.next_update_id(), user_id=USER, text="hi")
        queued = await tg.emu.deliver(None, None, update)
        greeting = await tg.emu.next_call("sendMessage")
        # The next poll confirms the update: it asks for what comes after it.
        offsets = [(await tg.emu.next_call("getUpdates")).params.get("offset")]
        while offsets[-1] != update["update_id"] + 1:
            offsets.append((await tg.emu.next_call("getUpdates")).params.get("offset"))
        await tg.emu.customer_press(None, None, user_id=USER, data="faq")
        asked = await tg.emu.next_call("sendMessage")
        answered = await tg.emu.next_call("answerCallbackQuery")
        webhook = await tg.post("{}")  # no webhook secret in polling mode: always refused
        await settled(tg.baton)
        inbox = await tg.baton.store.count("inbox")
    assert queued.status == 0  # queued for getUpdates, as Telegram does without a webhook
    assert [c.method for c in tg.emu.calls("deleteWebhook")] == ["deleteWebhook"]
    assert greeting.text == GREETING
    assert None not in offsets[1:]
    assert asked.text == "What is your question about?"
    assert answered.status == 200
    assert webhook.status == 401
    assert inbox == 2


async def test_constructor_without_a_secret_in_webhook_mode_raises() -> None:
    with pytest.raises(ValueError, match="BATON_TELEGRAM_SECRET"):
        TelegramAdapter(TOKEN, secret=None, mode="webhook")
