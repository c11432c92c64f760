"""The console's customer page in a real browser (headless Chromium): an admin finds a
customer whose Telegram name is an HTML injection attempt, sees it as text, sees their
consents, and erases them; an agent who may not see the customer's conversation finds
nobody."""

from __future__ import annotations

import shutil

import pytest

from bot.demo import app as demo_app
from bot.testing import chat_on
from storage.consents import Consents
from tests.console.support import PASSWORD, Browser, add_agent
from tests.console.test_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs chromium at {CHROMIUM}"),
]
HOSTILE = "<img src=x onerror=alert(1)>Quirina"


async def test_an_admin_finds_and_erases_a_customer(sqlite_url: str) -> None:
    from playwright import async_api

    async with chat_on("telegram", demo_app, database_url=sqlite_url, name=HOSTILE) as chat:
        await chat.send("hi")
        await chat.next_reply()
        await chat.baton.engine.idle()
        found = await chat.baton.store.identity("telegram", chat.identity)
        assert found is not None
        customer_id = found[1]
        await Consents(chat.baton.store).record(
            customer_id, "marketing", granted=True, source="customer", text="May we? <b>x</b>"
        )
        await add_agent(chat.baton, "root@example.com", "Root", "admin")
        await add_agent(chat.baton, "ann@example.com", "Ann", "agent")
        async with Browser(chat.baton) as agent:
            await agent.login("ann@example.com")
            status, seen = await agent.get("/api/customers?q=Quirina")
            assert status == 200
            assert seen["items"] == []  # not a conversation of hers: not a customer she sees
            status, _ = await agent.get(f"/api/customers/{customer_id}")
            assert status == 404
            status, _ = await agent.post(f"/api/customers/{customer_id}/erase")
            assert status == 403

        dialogs: list[str] = []
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page()

                async def confirm(dialog: async_api.Dialog) -> None:
                    dialogs.append(dialog.message)
                    await dialog.accept()

                page.on("dialog", confirm)
                expect = async_api.expect
                await page.goto(chat.baton.url("/console/customers"))
                await page.fill("#email", "root@example.com")
                await page.fill("#password", PASSWORD)
                await page.click("#login-submit")
                await page.wait_for_url("**/console")
                await page.goto(chat.baton.url("/console/customers"))
                await page.fill("#q", "quirina")
                await page.click("#search button")
                result = page.locator("#results button")
                await expect(result).to_have_count(1)
                await expect(result).to_contain_text(HOSTILE)
                await result.click()
                await expect(page.locator("#customer-title")).to_contain_text(HOSTILE)
                await expect(page.locator("#consents td").last).to_have_text("May we? <b>x</b>")
                assert await page.locator("#customers img, #results img").count() == 0
                await page.click("#erase")
                await expect(page.locator("#banner")).to_have_text(
                    f"Erased customer {customer_id}."
                )
            finally:
                await browser.close()
        assert dialogs == ["Erase everything held about this customer? This cannot be undone."]
        assert await chat.baton.store.identity("telegram", chat.identity) is None
