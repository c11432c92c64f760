"""The console's view of a customer's follow-up over real HTTP: their survey answers and
scheduled work with its status, with the conversation's authorisation."""

from __future__ import annotations

from datetime import timedelta

from bot.demo import app
from bot.followup import EventRecord, Listeners, texts
from dialogs import App, Context, Keyword, flow
from storage import FollowupStore
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


@flow(triggers=[Keyword("remind me")])
async def reminder(ctx: Context) -> None:
    await ctx.say("I'll remind you tomorrow.")
    await ctx.sleep(timedelta(days=1))
    await ctx.say("Here is your reminder.")


@flow(triggers=[Keyword("hello")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


async def test_linking_two_customers_is_an_event_and_their_timers_follow(
    database_url: str,
) -> None:
    linked: list[EventRecord] = []
    listeners = Listeners()

    @listeners.on("customer.linked")
    async def on_link(event: EventRecord) -> None:
        linked.append(event)

    bot = App(flows=[reminder, hello])
    async with (
        running_baton(database_url, bot, features=[listeners]) as baton,
        Browser(baton) as browser,
    ):
        await add_agent(baton, "grace@example.com", "Grace", role="admin")
        first, second = (
            WebChat(baton.engine, baton.web, "c-one"),
            WebChat(baton.engine, baton.web, "c-two"),
        )
        await second.send("remind me")
        await second.expect("I'll remind you tomorrow.")
        await first.send("hello")
        await first.expect("Hello!")
        one = await baton.store.identity("web", "c-one")
        two = await baton.store.identity("web", "c-two")
        assert one is not None
        assert two is not None
        await browser.login("grace@example.com")
        status, body = await browser.post(
            "/api/identities/link", {"identity_a": one[0], "identity_b": two[0]}
        )
        assert status == 200
        keep = body["customer_id"]
        await baton.settle()
        assert [(e.name, e.customer_id) for e in linked] == [("customer.linked", keep)]
        store = FollowupStore(baton.store)
        assert [(t["kind"], t["status"]) for t in await store.timers(keep)] == [
            ("wake", "pending")
        ]
        await baton.advance(timedelta(days=1))
        assert [(t["kind"], t["status"]) for t in await store.timers(keep)] == [("wake", "fired")]
