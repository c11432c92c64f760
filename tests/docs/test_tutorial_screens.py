"""The tutorial's pictures, made from the real pages: the tutorial's bot in the sandbox, a
customer with a damaged item handed to a person, and the agent answering from the console, in
headless Chromium (Debian's) through Playwright.

Each step asserts what the tutorial says the reader sees, then saves its screenshot
(`tests.support.screenshots`: `BATON_UPDATE_SCREENSHOTS=1` writes them to docs/images/).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, async_playwright, expect

from bot.console.auth import hash_password
from bot.console.core import CONSOLE
from examples.tutorial.flows import app
from tests.e2e.test_sandbox import sandbox_baton
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
PASSWORD = "correct horse battery staple"
GREETING = "Hi! I'm the shop bot. What can I do for you?"
REPLY = "So sorry, Grace! A new one leaves today; no need to send the old one back."

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)",
    ),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*"),
]


def pane(page: Page, channel: str) -> Locator:
    return page.locator(f'section[data-channel="{channel}"]')


async def say(where: Locator, text: str) -> None:
    await where.get_by_role("textbox").fill(text)
    await where.get_by_role("button", name="Send").click()


async def test_the_tutorial_bot_in_the_sandbox_and_the_console(sqlite_url: str) -> None:
    async with sandbox_baton(sqlite_url, bot=app) as baton, async_playwright() as playwright:
        await baton.app[CONSOLE].db.add_agent(
            "grace@example.com", "Grace Hopper", "agent", hash_password(PASSWORD)
        )
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(WAIT)
            await page.goto(baton.url + "/sandbox")
            telegram, sms, slack = (pane(page, c) for c in ("telegram", "twilio", "slack"))

            # Step 2: the new bot answers in the sandbox, with a numbered list by SMS and
            # buttons on Slack.
            await expect(slack.get_by_text("Ready.")).to_be_visible()
            await say(sms, "hi")
            await expect(sms.get_by_text("1. Where is my order?")).to_be_visible()
            await say(slack, "hi")
            await expect(slack.get_by_text(GREETING)).to_be_visible()
            await expect(slack.get_by_role("button", name="Talk to a person")).to_be_visible()
            await save_screenshot(page, "tutorial-sandbox.png")

            # Step 4: the returns flow asks, checks and offers its reasons.
            await say(telegram, "I want to return something")
            await expect(telegram.get_by_text("What is your name?")).to_be_visible()
            await say(telegram, "Grace")
            await expect(
                telegram.get_by_text("Which order would you like to return, Grace?")
            ).to_be_visible()
            await say(telegram, "123")
            await expect(
                telegram.get_by_text("An order number has 5 digits, like 12345. What is yours?")
            ).to_be_visible()
            await say(telegram, "54321")
            await expect(telegram.get_by_text("Why are you returning it?")).to_be_visible()
            await expect(telegram.get_by_role("button", name="It arrived damaged")).to_be_visible()
            await save_screenshot(page, "tutorial-returns.png")

            # Step 5: a damaged item goes to a person.
            await telegram.get_by_role("button", name="It arrived damaged").click()
            await expect(
                telegram.get_by_text("A person from our team will take over.")
            ).to_be_visible()

            console = await browser.new_page(viewport={"width": 1440, "height": 900})
            console.set_default_timeout(WAIT)
            await console.goto(baton.url + "/console")
            await console.fill("#email", "grace@example.com")
            await console.fill("#password", PASSWORD)
            await console.click("#login-submit")
            await console.wait_for_url("**/console")
            item = console.locator(".queue-item").first
            await expect(item).to_contain_text("order 54321 arrived damaged")
            await item.click()
            await expect(console.locator("#cust-answers")).to_contain_text("54321")
            await console.click("#act-claim")
            await expect(console.locator("#conv-status")).to_have_text("With an agent")
            await console.fill("#composer-text", REPLY)
            await console.click("#send")
            sent = console.locator("#timeline .msg.from-agent").last
            await expect(sent.locator(".delivery")).to_have_text("Sent")
            await save_screenshot(console, "tutorial-console.png")

            # ... and the agent's answer reaches the customer on Telegram.
            await expect(telegram.get_by_text(REPLY)).to_be_visible()
            await save_screenshot(page, "tutorial-agent-reply.png")
        finally:
            await browser.close()
