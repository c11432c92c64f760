"""The sandbox page in a real browser: headless Chromium (Debian's) driven by Playwright against
Baton built as `baton run` builds it in sandbox mode, on a loopback port.

Skipped, with the reason, where /usr/bin/chromium is missing (`apt-get install -y chromium`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Error, Locator, Page, async_playwright, expect

from tests.e2e.test_sandbox import CHOICES, GREETING, sandbox_baton
from tests.support.screenshots import save_screenshot

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT = 15_000  # ms: the most any step may take

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)",
    ),
]


def pane(page: Page, channel: str) -> Locator:
    return page.locator(f'section[data-channel="{channel}"]')


async def say(where: Locator, text: str) -> None:
    await where.get_by_role("textbox").fill(text)
    await where.get_by_role("button", name="Send").click()


async def test_a_customer_uses_the_demo_bot_on_telegram_sms_and_slack(sqlite_url: str) -> None:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text} {message.location}")

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    async with sandbox_baton(sqlite_url) as baton, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(WAIT)
            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            await page.goto(baton.url + "/sandbox")

            telegram = pane(page, "telegram")
            await expect(telegram.get_by_text("Ready.")).to_be_visible()
            await say(telegram, "hi")
            await expect(telegram.get_by_text(GREETING)).to_be_visible()
            for label in CHOICES:
                await expect(telegram.get_by_role("button", name=label)).to_be_visible()
            await telegram.get_by_role("button", name="Where is my order?").click()
            await expect(telegram.get_by_text("What's your name?")).to_be_visible()
            await expect(telegram.get_by_text("POST /webhooks/telegram → 200")).to_be_visible()

            sms = pane(page, "twilio")
            await say(sms, "hi")
            await expect(sms.get_by_text(GREETING)).to_be_visible()
            await expect(sms.get_by_text("1. Where is my order?")).to_be_visible()
            await expect(sms.get_by_role("button", name="Where is my order?")).to_have_count(0)
            await say(sms, "1")
            await expect(sms.get_by_text("What's your name?")).to_be_visible()

            slack = pane(page, "slack")
            await say(slack, "hi")
            await expect(slack.get_by_text(GREETING)).to_be_visible()
            await slack.get_by_role("button", name="Where is my order?").click()
            await expect(slack.get_by_text("What's your name?")).to_be_visible()

            # WhatsApp's pane comes from the channel registry; its menu is a list picker.
            whatsapp = pane(page, "whatsapp")
            await expect(whatsapp.get_by_text("Ready.")).to_be_visible()
            await say(whatsapp, "hi")
            await expect(whatsapp.get_by_text(GREETING)).to_be_visible()
            await whatsapp.get_by_role("button", name="Where is my order?").click()
            await expect(whatsapp.get_by_text("What's your name?")).to_be_visible()

            await save_screenshot(page, "sandbox.png", full_page=True)

            # Markup typed by the customer, and echoed by the bot, stays text.
            markup = "<img src=x onerror=\"document.title='owned'\">"
            await say(telegram, markup)
            thanks = telegram.get_by_text(f"Thanks, {markup}. What's your order number?")
            await expect(thanks).to_be_visible()
            await expect(page.locator("img")).to_have_count(0)
            title = await page.title()
        finally:
            await browser.close()
    assert title == "Baton sandbox"
    assert problems == []


async def test_the_button_makes_the_three_panes_one_customer(sqlite_url: str) -> None:
    problems: list[str] = []
    async with sandbox_baton(sqlite_url) as baton, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(WAIT)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            await page.goto(baton.url + "/sandbox")
            telegram, sms, slack = (pane(page, c) for c in ("telegram", "twilio", "slack"))
            await expect(telegram.get_by_text("Ready.")).to_be_visible()
            await expect(slack.get_by_text("Ready.")).to_be_visible()
            status = page.get_by_role("status")
            await expect(status).to_contain_text("type link in one pane")

            await page.get_by_role("button", name="Be one customer on all of them").click()

            await expect(status).to_have_text(
                "Telegram, SMS, Slack and WhatsApp are one customer now."
            )
            await expect(telegram.get_by_text("Your linking code is").first).to_be_visible()
            linked = "Linked! This chat and your Telegram chat are one conversation now."
            await expect(sms.get_by_text(linked)).to_be_visible()
            await expect(slack.get_by_text(linked)).to_be_visible()

            # The next message on SMS goes on with the conversation begun on Telegram.
            await say(telegram, "where is my order")
            await expect(telegram.get_by_text("What's your name?")).to_be_visible()
            await say(sms, "Ada")
            await expect(sms.get_by_text("Thanks, Ada. What's your order number?")).to_be_visible()
            await expect(sms.get_by_text(GREETING)).to_have_count(0)
        finally:
            await browser.close()
    assert problems == []
