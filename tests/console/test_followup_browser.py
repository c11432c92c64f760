"""The console's follow-up cards in a real browser (headless Chromium): a customer's low CSAT
with a hostile comment reopened the conversation; the agent opening it sees the survey and
the scheduled survey flow, the comment as text, never as markup."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.demo import app
from bot.followup import texts
from tests.console.support import PASSWORD, TEXTS, Browser, add_agent, customer_ids
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
HOSTILE = "<img src=x onerror=alert(1)> too slow"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs chromium at {CHROMIUM}"),
]


async def test_the_customer_panel_shows_surveys_and_scheduled_work(tmp_path: Path) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    url = f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"
    async with running_baton(url, app, survey_after="agent") as baton, Browser(baton) as api:
        await add_agent(baton, "grace@example.com", "Grace", role="admin")
        chat = WebChat(baton.engine, baton.web, "c1")
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        _, conversation = await customer_ids(baton, chat)
        await api.login("grace@example.com")
        await api.post(f"/api/conversations/{conversation}/claim")
        await api.post(f"/api/conversations/{conversation}/resolve", {})
        await baton.settle()
        while (await chat.next()).text != texts.QUESTIONS["csat"]:
            pass
        await chat.send("1")
        await chat.expect(texts.COMMENT)
        await chat.send(HOSTILE)
        await chat.expect(texts.LOW_SCORE_REPLY)
        await baton.settle()

        dialogs: list[str] = []
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                expect = async_api.expect
                await page.goto(baton.url("/console"))
                await page.fill("#email", "grace@example.com")
                await page.fill("#password", PASSWORD)
                await page.click("#login-submit")
                await page.wait_for_url("**/console")
                await page.locator(".queue-item").first.click()
                survey = page.locator("#cust-surveys .survey")
                await expect(survey).to_have_count(1)
                await expect(survey.locator("div").first).to_contain_text("CSAT 1")
                await expect(survey.locator("div").nth(1)).to_contain_text(HOSTILE)
                assert await page.locator("#cust-surveys img").count() == 0
                scheduled = page.locator("#cust-scheduled .scheduled")
                await expect(scheduled.first).to_contain_text("Flow starts: baton_survey")
                await expect(scheduled.first).to_contain_text("Done")
            finally:
                await browser.close()
        assert dialogs == []
