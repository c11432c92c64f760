"""The console in a real browser (headless Chromium through Playwright), against a real Baton
whose customer writes through the real Telegram and Twilio adapters and their emulators.

An agent logs in, sees the waiting customer (whose Telegram name is an HTML injection
attempt), claims the conversation, reads the history across Telegram and SMS, replies (the
reply reaches the SMS emulator, with its delivery status shown), sees a new customer message
(a `<script>`) appear live, and resolves. Nothing the customer wrote runs or becomes an
element. A screenshot of the console is saved as console.png (`tests.support.screenshots`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, update

from adapters.base import Adapter
from adapters.emulators import TelegramEmulator, TwilioEmulator
from adapters.telegram import PATH as TELEGRAM_PATH
from adapters.telegram import TelegramAdapter
from adapters.twilio import SMS_PATH, TwilioAdapter
from bot.demo import app
from storage.tables import metadata
from tests.console.support import PASSWORD, TEXTS, add_agent, handoffs_of
from tests.support.baton import Running, running_baton
from tests.support.screenshots import save_screenshot

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
    ),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*"),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TOKEN = "123456:TEST-token"
SECRET = "hook-secret_42"
TELEGRAM_USER = 4242
PHONE = "+15551230001"
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "https://bot.example.com"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = "<script>window.__pwned = 1</script>"
FAST = {"outbox_base_delay": 0.05, "outbox_max_delay": 0.2}


@dataclass
class Customer:
    """One person writing on Telegram and by SMS."""

    baton: Running
    telegram: TelegramEmulator
    twilio: TwilioEmulator

    async def on_telegram(self, text: str) -> None:
        result = await self.telegram.customer_text(
            self.baton.url(TELEGRAM_PATH),
            SECRET,
            user_id=TELEGRAM_USER,
            text=text,
            first_name=HOSTILE_NAME,
        )
        assert result.status == 200

    async def by_sms(self, text: str) -> None:
        result = await self.twilio.customer_sms(
            self.baton.url(SMS_PATH), PUBLIC_URL + SMS_PATH, from_=PHONE, to=OUR_NUMBER, body=text
        )
        assert result.status == 200

    async def telegram_reply(self) -> str:
        return str((await self.telegram.next_call("sendMessage")).params["text"])

    async def sms_reply(self) -> str:
        return str((await self.twilio.next_call("messages.create")).params["Body"])


@asynccontextmanager
async def customer_on_two_channels(database_url: str) -> AsyncIterator[Customer]:
    telegram, twilio = TelegramEmulator(TOKEN), TwilioEmulator()
    async with telegram.run() as telegram_api, twilio.run() as twilio_api:
        adapters: list[Adapter] = [
            TelegramAdapter(TOKEN, secret=SECRET, api_base=telegram_api),
            TwilioAdapter(
                twilio.account_sid,
                twilio.auth_token,
                OUR_NUMBER,
                public_url=PUBLIC_URL,
                api_base=twilio_api,
            ),
        ]
        async with running_baton(database_url, app, adapters=adapters, **FAST) as baton:
            yield Customer(baton, telegram, twilio)


async def link_sms_to_telegram(baton: Running) -> None:
    """Stands in for linking channels (proved by the customer, another feature): the SMS
    number becomes the Telegram customer's, with its messages."""
    identities, messages = metadata.tables["identities"], metadata.tables["messages"]
    telegram = await baton.store.identity("telegram", str(TELEGRAM_USER))
    sms = await baton.store.identity("twilio", PHONE)
    assert telegram is not None
    assert sms is not None
    conversation = (await baton.store.conversation(telegram[1]))["id"]

    def move(conn: Connection) -> None:
        conn.execute(
            update(identities).where(identities.c.id == sms[0]).values(customer_id=telegram[1])
        )
        conn.execute(
            update(messages)
            .where(messages.c.customer_id == sms[1])
            .values(customer_id=telegram[1], conversation_id=conversation)
        )

    await baton.engine.idle()
    await baton.store._runner.run(move)
    baton.store._identity_cache.clear()
    baton.engine.states.forget(telegram[1])
    baton.engine.states.forget(sms[1])


async def test_an_agent_takes_a_customer_from_the_queue_to_resolved(database_url: str) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    async with customer_on_two_channels(database_url) as customer:
        baton = customer.baton
        await add_agent(baton, "grace@example.com", "Grace Hopper")
        await add_agent(baton, "alan@example.com", "Alan Turing")
        grace = await handoffs_of(baton).db.agent_by_email("grace@example.com")
        assert grace is not None
        await handoffs_of(baton).db.add_canned_reply(
            "Looking into it", "Thanks for waiting! I'm looking into it right now.", grace.id
        )

        # The customer starts on Telegram (giving a hostile name), goes on by SMS, and asks
        # for a person.
        await customer.on_telegram("where is my order")
        assert await customer.telegram_reply() == "What's your name?"
        await customer.on_telegram(HOSTILE_NAME)
        assert await customer.telegram_reply() == (
            f"Thanks, {HOSTILE_NAME}. What's your order number?"
        )
        await customer.by_sms("hi")
        await customer.sms_reply()
        await link_sms_to_telegram(baton)
        await customer.by_sms("1234 5678")
        # A linked customer switching channel mid-question hears it once (bot.linking).
        assert await customer.sms_reply() == "Picking up where we left off on Telegram."
        assert (await customer.sms_reply()).startswith("Order 12345678 is delivered.")
        await customer.by_sms("2")  # "Talk to a person"
        assert await customer.sms_reply() == TEXTS.human_waiting
        assert await customer.sms_reply() == (
            "You're next in the queue. The expected wait is about 5 minutes."
        )

        dialogs: list[str] = []
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                expect = async_api.expect

                # Log in.
                first = await page.goto(baton.url("/console"))
                assert first is not None
                await page.fill("#email", "grace@example.com")
                await page.fill("#password", PASSWORD)
                await page.click("#login-submit")
                await page.wait_for_url("**/console")

                # The waiting customer, named as Telegram told us: shown as text.
                item = page.locator(".queue-item").first
                await expect(item.locator(".qi-name")).to_have_text(HOSTILE_NAME)
                await expect(item.locator(".badge")).to_have_text("SMS")
                await expect(item.locator(".chip").first).to_contain_text("Reply within")

                # Open it: the history on both channels, in order, and the bot's summary.
                await item.click()
                timeline = page.locator("#timeline")
                await expect(timeline.locator(".msg.from-customer")).to_have_count(5)
                customer_said = timeline.locator(".msg.from-customer")
                channels = await customer_said.locator(".badge").all_inner_texts()
                assert channels == ["Telegram", "Telegram", "SMS", "SMS", "SMS"]
                await expect(customer_said.nth(1).locator(".text")).to_have_text(HOSTILE_NAME)
                await expect(page.locator("#handoff-facts")).to_contain_text("order_status")
                await expect(page.locator("#cust-answers")).to_contain_text("1234 5678")
                await expect(page.locator("#cust-identities")).to_contain_text(PHONE)

                # Claim; the customer hears who is helping.
                await page.click("#act-claim")
                await expect(page.locator("#conv-status")).to_have_text("With an agent")
                joined = await customer.sms_reply()
                assert joined == "Grace Hopper from our team is here to help you."

                # Reply (with a canned reply): it reaches the SMS emulator, and shows as sent.
                await page.select_option("#canned", label="Looking into it")
                await page.click("#send")
                assert await customer.sms_reply() == (
                    "Thanks for waiting! I'm looking into it right now."
                )
                sent = timeline.locator(".msg.from-agent").last
                await expect(sent.locator(".delivery")).to_have_text("Sent")

                # The customer writes on Telegram: it appears without a reload, as text.
                await customer.on_telegram(HOSTILE_TEXT)
                newest = timeline.locator(".msg.from-customer").last
                await expect(newest.locator(".text")).to_have_text(HOSTILE_TEXT)
                await expect(newest.locator(".badge")).to_have_text("Telegram")

                # An internal note, which the customer never receives.
                await page.click("#mode-note")
                await page.fill("#composer-text", "Parcel is with the carrier; follow up Friday.")
                await page.click("#send")
                await expect(timeline.locator(".note")).to_contain_text("follow up Friday")

                # Nothing the customer wrote became an element or ran.
                assert await page.evaluate("document.querySelectorAll('img').length") == 0
                scripts = await page.evaluate("[...document.scripts].map((s) => s.src)")
                assert scripts == [baton.url("/console/static/console.js")]
                assert await page.evaluate("window.__pwned === undefined")
                assert dialogs == []
                await save_screenshot(page, "console.png")

                # Resolve: the customer is told on the channel they last wrote from.
                await page.click("#act-resolve")
                await expect(page.locator("#placeholder-text")).to_have_text(
                    f"Resolved. The bot answers {HOSTILE_NAME}'s next message."
                )
                assert await customer.telegram_reply() == TEXTS.resolved
                await expect(page.locator("#count-mine")).to_have_text("0")
                headers = await first.all_headers()
            finally:
                await browser.close()
        notes_sent = [c.params.get("Body") for c in customer.twilio.calls("messages.create")]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert not any("follow up Friday" in str(body) for body in notes_sent)


async def test_a_wrong_password_is_explained_on_the_login_page(sqlite_url: str) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    async with running_baton(sqlite_url, app) as baton:
        await add_agent(baton, "grace@example.com", "Grace")
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page()
                await page.goto(baton.url("/console"))
                await page.fill("#email", "grace@example.com")
                await page.fill("#password", "not it")
                await page.click("#login-submit")
                await async_api.expect(page.locator("#login-error")).to_have_text(
                    "Wrong email or password."
                )
                cookies = await page.context.cookies()
            finally:
                await browser.close()
    assert json.dumps(cookies) == "[]"


async def test_an_admin_adds_an_agent_a_canned_reply_and_a_token(database_url: str) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    expect = async_api.expect
    async with running_baton(database_url, app) as baton:
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                await page.goto(baton.url("/console"))
                await page.fill("#email", "boss@example.com")
                await page.fill("#password", PASSWORD)
                await page.click("#login-submit")
                await page.click("#admin-open")
                await page.fill("#agent-name", "Linus <b>T</b>")
                await page.fill("#agent-email", "linus@example.com")
                await page.click("#agent-form button[type=submit]")
                secret = page.locator("#admin-banner .secret")
                await expect(secret).to_have_count(1)
                password = await secret.inner_text()
                await expect(page.locator("#admin-agents")).to_contain_text("Linus <b>T</b>")
                await page.fill("#canned-title", "Refund")
                await page.fill("#canned-text", "Your refund is on its way.")
                await page.click("#canned-form button[type=submit]")
                await expect(page.locator("#canned option")).to_have_text(
                    ["Canned replies…", "Refund"]
                )
                await page.fill("#token-name", "reporting")
                await page.click("#token-form button[type=submit]")
                await expect(page.locator("#admin-banner")).to_contain_text("Token created")
                token = await page.locator("#admin-banner .secret").inner_text()
                await expect(page.locator("#admin-tokens")).to_contain_text("reporting")
            finally:
                await browser.close()
        other = await handoffs_of(baton).db.agent_by_email("linus@example.com")
    assert other is not None
    assert other.name == "Linus <b>T</b>"
    assert len(password) >= 16
    assert token.startswith("baton_")
