"""An agent attaches a file in the console (headless Chromium): on Telegram the customer
receives the document with its name; on the web chat, which cannot carry files, and for a file
over the size limit, the page says why, with every file name shown as text."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.demo import app
from bot.testing import chat_on
from tests.console.support import PASSWORD, TEXTS, add_agent
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PDF = b"%PDF-1.4\n" + b"invoice " * 500 + b"\n%%EOF\n"
HOSTILE = "<img src=x onerror=alert(1)>.pdf"
GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs chromium at {CHROMIUM}"),
]


async def _claimed_in_the_console(page: Any, url: str, expect: Any) -> None:
    """Grace logs in, opens the waiting customer and claims the conversation."""
    await page.goto(url)
    await page.fill("#email", "grace@example.com")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url("**/console")
    await page.locator(".queue-item").first.click()
    await page.click("#act-claim")
    await expect(page.locator("#conv-status")).to_have_text("With an agent")


async def test_an_agent_attaches_a_pdf_and_the_telegram_customer_receives_it(
    tmp_path: Path,
) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    expect = async_api.expect
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(PDF)
    async with chat_on(
        "telegram",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await chat.send("hi")
        await chat.expect(GREETING)
        await chat.choose("Talk to a person")
        await chat.expect(TEXTS.human_waiting)
        await add_agent(chat.baton, "grace@example.com", "Grace")
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                await _claimed_in_the_console(page, chat.baton.url("/console"), expect)
                await page.set_input_files("#attach-input", str(invoice))
                await expect(page.locator("#attach-name")).to_have_text("invoice.pdf")
                await page.fill("#composer-text", "Here is your invoice")
                await page.click("#send")
                sent = page.locator("#timeline .msg.from-agent").last
                await expect(sent.locator(".file")).to_have_text("document: invoice.pdf")
                await expect(sent.locator(".delivery")).to_have_text("Sent")
                await expect(page.locator("#attach-chosen")).to_be_hidden()
                await expect(page.locator("#banner")).to_be_hidden()
            finally:
                await browser.close()
        call = await chat.emulator.next_call("sendDocument", timeout=10)
    assert call.status == 200
    assert call.params["document"]["file_name"] == "invoice.pdf"
    assert call.params["caption"] == "Here is your invoice"


async def test_the_page_says_why_a_file_cannot_go(tmp_path: Path) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    expect = async_api.expect
    big = tmp_path / "big.pdf"
    big.write_bytes(PDF * 4)
    hostile = tmp_path / HOSTILE
    hostile.write_bytes(PDF)
    url = f"sqlite+aiosqlite:///{tmp_path}/a.db"
    limit = len(PDF) * 2
    async with running_baton(
        url, app, media_folder=str(tmp_path / "m"), media_max_bytes=limit
    ) as baton:
        chat = WebChat(baton.engine, baton.web, "c1")
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        await add_agent(baton, "grace@example.com", "Grace")
        dialogs: list[str] = []
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                await _claimed_in_the_console(page, baton.url("/console"), expect)
                timeline = page.locator("#timeline")
                before = await timeline.locator(".msg.from-agent").count()

                # Over the size limit: refused at upload, nothing is sent, the file stays.
                await page.set_input_files("#attach-input", str(big))
                await page.click("#send")
                await expect(page.locator("#banner")).to_have_text(
                    f"Could not attach big.pdf: the limit is {limit} bytes."
                )
                await expect(page.locator("#attach-name")).to_have_text("big.pdf")
                assert await timeline.locator(".msg.from-agent").count() == before

                # Removed, then a file the web chat cannot carry: the reply says why.
                await page.click("#attach-remove")
                await expect(page.locator("#attach-chosen")).to_be_hidden()
                await page.set_input_files("#attach-input", str(hostile))
                await expect(page.locator("#attach-name")).to_have_text(HOSTILE)
                await page.click("#send")
                sent = timeline.locator(".msg.from-agent").last
                await expect(sent.locator(".delivery")).to_have_text("Not delivered")
                await expect(sent.locator(".delivery-error")).to_contain_text(
                    f"Web cannot carry files ({HOSTILE})"
                )
                assert await page.evaluate("document.querySelectorAll('img').length") == 0
            finally:
                await browser.close()
    assert dialogs == []
