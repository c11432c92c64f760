"""The console's view of a customer's follow-up over real HTTP: their survey answers and
scheduled work with its status, with the conversation's authorisation."""

from __future__ import annotations

from bot.demo import app
from bot.followup import texts
from tests.console.support import TEXTS, Browser, add_agent, customer_ids
from tests.support.baton import running_baton
from tests.support.webchat import WebChat


async def test_an_agent_sees_the_customers_survey_and_scheduled_work(database_url: str) -> None:
    async with (
        running_baton(database_url, app, survey_after="agent") as baton,
        Browser(baton) as browser,
    ):
        await add_agent(baton, "grace@example.com", "Grace", role="admin")
        await add_agent(baton, "bob@example.com", "Bob")
        chat = WebChat(baton.engine, baton.web, "c1")
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        _, conversation = await customer_ids(baton, chat)
        await browser.login("grace@example.com")
        assert (await browser.post(f"/api/conversations/{conversation}/claim"))[0] == 200
        resolved = await browser.post(f"/api/conversations/{conversation}/resolve", {})
        assert resolved[0] == 200
        await baton.settle()
        while (await chat.next()).text != texts.QUESTIONS["csat"]:
            pass
        await chat.send("4")
        await chat.expect(texts.COMMENT)
        await chat.send("<script>alert(1)</script>")
        await chat.expect(texts.THANKS)
        await baton.settle()

        status, body = await browser.get(f"/api/conversations/{conversation}/follow-up")
        assert status == 200
        assert [(s["kind"], s["score"], s["comment"], s["channel"]) for s in body["surveys"]] == [
            ("csat", 4, "<script>alert(1)</script>", "web")  # JSON; the page uses textContent
        ]
        assert [(t["kind"], t["flow"], t["status"]) for t in body["scheduled"]] == [
            ("start", "baton_survey", "fired")
        ]

        await browser.request("DELETE", "/api/session")
        await browser.login("bob@example.com")
        seen_by_bob = await browser.get(f"/api/conversations/{conversation}")
        follow_up_by_bob = await browser.get(f"/api/conversations/{conversation}/follow-up")
        # Resolved, it is no longer an agent's to see (admins see all): the same rule.
        assert seen_by_bob[0] == follow_up_by_bob[0] == 404
        missing = await browser.get("/api/conversations/999999/follow-up")
        assert missing[0] == 404
