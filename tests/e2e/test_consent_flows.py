"""Consent with a reason in flows, through the real SDKs: `ctx.consent` asks with the reason
and records the answer (purpose, channel, the exact text shown); `ctx.ask(why=...)` shows why
a piece of data is asked; "stop marketing" withdraws; the console API withdraws too."""

from __future__ import annotations

import pytest

from bot.testing import ChatScript, chat_on
from dialogs import App, Context, Keyword, flow
from storage.consents import Consents
from tests.console.support import Browser, add_agent

QUESTION = "May we send you marketing messages?\n(Why we ask: to tell you about sales first)"


@flow(triggers=[Keyword("newsletter")])
async def newsletter(ctx: Context) -> None:
    phone = await ctx.ask(
        "What's your phone number?", why="so our courier can call you", remember="phone"
    )
    if await ctx.consent("marketing", why="to tell you about sales first"):
        await ctx.say(f"We'll text {phone} about sales.")


app = App(flows=[newsletter])


async def customer_of(chat: ChatScript) -> int:
    await chat.baton.engine.idle()
    found = await chat.baton.store.identity(chat.channel, chat.identity)
    assert found is not None
    return found[1]


@pytest.mark.parametrize("channel", ["telegram", "twilio", "slack"])
async def test_consent_is_asked_with_its_reason_and_recorded(
    channel: str, database_url: str
) -> None:
    async with chat_on(channel, app, database_url=database_url) as chat:
        await chat.send("newsletter")
        await chat.expect("What's your phone number?\n(Why we ask: so our courier can call you)")
        await chat.send("+31 6 1234 5678")
        await chat.expect(QUESTION, choices=["Yes, that's fine", "No, thanks"])
        await chat.choose("Yes, that's fine")
        await chat.expect("Thanks! You can say 'stop marketing' any time.")
        await chat.expect("We'll text +31 6 1234 5678 about sales.")
        customer_id = await customer_of(chat)
        consents = Consents(chat.baton.store)
        [given] = await consents.history(customer_id)
        assert (given.purpose, given.granted, given.channel, given.source, given.text) == (
            "marketing",
            True,
            channel,
            "customer",
            QUESTION,
        )
        assert await consents.allows(customer_id, "marketing")

        await chat.send("stop marketing")
        await chat.expect("Done: no more marketing messages. You can change your mind any time.")
        assert not await consents.allows(customer_id, "marketing")


async def test_an_agent_records_a_withdrawal_through_the_api(sqlite_url: str) -> None:
    async with chat_on("telegram", app, database_url=sqlite_url) as chat:
        await chat.send("newsletter")
        await chat.next_reply()
        await chat.send("0612345678")
        await chat.next_reply()
        await chat.choose("Yes, that's fine")
        await chat.next_reply()
        customer_id = await customer_of(chat)
        await add_agent(chat.baton, "root@example.com", "Root", "admin")
        async with Browser(chat.baton) as browser:
            await browser.login("root@example.com")
            status, _ = await browser.post(
                f"/api/customers/{customer_id}/consents",
                {"purpose": "marketing", "granted": False, "text": "asked by phone"},
            )
            assert status == 200
            status, page = await browser.get(f"/api/customers/{customer_id}")
        assert status == 200
        assert page["consents"]["marketing"]["granted"] is False
        assert page["consents"]["marketing"]["source"] == "console"
        assert [c["text"] for c in page["consent_history"]] == [QUESTION, "asked by phone"]
        assert not await Consents(chat.baton.store).allows(customer_id, "marketing")
