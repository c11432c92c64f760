"""Proactive messages end to end: Baton writes first, through the real SDKs and the emulators.

The channel rule (preferred, else last used, else any reachable), the opt-out and consent
gates with their recorded reasons, the console API and its bad input.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.linking import Linking
from bot.proactive import BadMessage, Proactive, UnknownCustomer
from bot.testing import ChatScript, chat_on, chats_on
from dialogs import App, Context, Keyword, flow
from storage.consents import Consents
from tests.console.support import Browser, add_agent

CHANNELS = ["telegram", "twilio", "slack"]


@flow(triggers=[Keyword("hi")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


@flow(triggers=[Keyword("text me")])
async def prefer_sms(ctx: Context) -> None:
    ctx.memory["preferred_channel"] = "twilio"
    await ctx.say("From now on we'll text you.")


APP = App(flows=[hello, prefer_sms])


async def customer_of(chat: ChatScript) -> int:
    return (await chat.conversation()).customer_id


@asynccontextmanager
async def one_person_on_three_channels(
    url: str,
) -> AsyncIterator[tuple[dict[str, ChatScript], int]]:
    """The same person greeted on Telegram, SMS and Slack, linked into one customer."""
    async with chats_on(CHANNELS, APP, database_url=url) as chats:
        for chat in chats.values():
            await chat.send("hi")
            await chat.expect("Hello!")
        baton = chats["telegram"].baton
        ids = []
        for channel, chat in chats.items():
            found = await baton.store.identity(channel, chat.identity)
            assert found is not None
            ids.append(found[0])
        linking = baton.engine.feature(Linking)
        await linking.link(ids[0], ids[1], actor="test")
        await linking.link(ids[0], ids[2], actor="test")
        customer_id = await customer_of(chats["telegram"])
        assert {await customer_of(c) for c in chats.values()} == {customer_id}
        yield chats, customer_id


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_proactive_message_goes_to_the_channel_last_used(
    sqlite_url: str, channel: str
) -> None:
    async with one_person_on_three_channels(sqlite_url) as (chats, customer_id):
        await chats[channel].send("hi")
        await chats[channel].expect("Hello!")
        baton = chats[channel].baton
        record = await baton.engine.notify(customer_id, "Your parcel shipped today.")
        await chats[channel].expect("Your parcel shipped today.")
        for other in CHANNELS:
            if other != channel:
                await chats[other].expect_no_reply()
        listed = await baton.engine.feature(Proactive).db.of_customer(customer_id)
    assert (record.status, record.channel) == ("queued", channel)
    assert [(r.state, r.channel, r.text) for r in listed] == [
        ("sent", channel, "Your parcel shipped today.")
    ]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_proactive_message_goes_to_the_preferred_channel_set_by_the_api(
    sqlite_url: str, channel: str
) -> None:
    last = "slack" if channel != "slack" else "telegram"
    async with one_person_on_three_channels(sqlite_url) as (chats, customer_id):
        baton = chats[channel].baton
        await chats[last].send("hi")
        await chats[last].expect("Hello!")
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        async with Browser(baton) as boss:
            await boss.login("boss@example.com")
            preferred = await boss.request(
                "PUT", f"/api/customers/{customer_id}/preferred-channel", {"channel": channel}
            )
            sent = await boss.request(
                "POST",
                f"/api/customers/{customer_id}/messages",
                {"text": "Did the replacement arrive?", "choices": ["Yes", "No"]},
            )
            await chats[channel].expect("Did the replacement arrive?", choices=["Yes", "No"])
            await chats[last].expect_no_reply()
            listed = await boss.request("GET", f"/api/customers/{customer_id}/proactive")
    assert preferred == (200, {"customer_id": customer_id, "preferred_channel": channel})
    assert sent[0] == 201
    assert (sent[1]["message"]["channel"], sent[1]["message"]["source"]) == (channel, "api")
    assert [(m["status"], m["channel"]) for m in listed[1]["messages"]] == [("sent", channel)]


async def test_a_flow_sets_the_preferred_channel(sqlite_url: str) -> None:
    async with one_person_on_three_channels(sqlite_url) as (chats, customer_id):
        await chats["telegram"].send("text me")
        await chats["telegram"].expect("From now on we'll text you.")
        record = await chats["telegram"].baton.engine.notify(customer_id, "Your order is ready.")
        await chats["twilio"].expect("Your order is ready.")
        await chats["telegram"].expect_no_reply()
    assert record.channel == "twilio"


async def test_an_opted_out_preferred_channel_falls_back_to_one_that_may_be_used(
    sqlite_url: str,
) -> None:
    async with one_person_on_three_channels(sqlite_url) as (chats, customer_id):
        await chats["twilio"].send("text me")
        await chats["twilio"].expect("From now on we'll text you.")
        await chats["twilio"].send("STOP")
        await chats["slack"].send("hi")
        await chats["slack"].expect("Hello!")
        await chats["twilio"].read_all()
        record = await chats["slack"].baton.engine.notify(customer_id, "Your order is ready.")
        await chats["slack"].expect("Your order is ready.")
        await chats["twilio"].expect_no_reply()
    assert record.channel == "slack"


async def test_stop_on_sms_and_no_other_channel_means_nothing_is_sent_and_why_is_visible(
    database_url: str,
) -> None:
    async with chat_on("twilio", APP, database_url=database_url) as sms:
        await sms.send("hi")
        await sms.expect("Hello!")
        await sms.send("STOP")
        await sms.expect_no_reply()
        baton = sms.baton
        customer_id = await customer_of(sms)
        feature = baton.engine.feature(Proactive)
        by_engine = await baton.engine.notify(customer_id, "Your parcel shipped.")
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        async with Browser(baton) as boss:
            await boss.login("boss@example.com")
            by_api = await boss.request(
                "POST", f"/api/customers/{customer_id}/messages", {"text": "Parcel news"}
            )
            campaign = await boss.request(
                "POST",
                "/api/campaigns",
                {
                    "name": "spring",
                    "text": "Spring sale!",
                    "segment": {"customers": [customer_id]},
                },
            )
            await feature.finished(campaign[1]["campaign"]["id"])
            progress = await boss.request("GET", f"/api/campaigns/{campaign[1]['campaign']['id']}")
            listed = await boss.request("GET", f"/api/customers/{customer_id}/proactive")
        await sms.expect_no_reply()
    assert (by_engine.status, by_engine.reason_code) == ("skipped", "opted_out")
    assert by_engine.reason is not None
    assert "opted out on twilio" in by_engine.reason
    assert by_api[0] == 201
    assert by_api[1]["message"]["status"] == "skipped"
    assert campaign[0] == 201
    assert progress[1]["campaign"]["counts"]["skipped"] == 1
    assert progress[1]["campaign"]["skipped_reasons"] == {"opted_out": 1}
    assert [(m["text"], m["status"], m["reason_code"]) for m in listed[1]["messages"]] == [
        ("Spring sale!", "skipped", "opted_out"),
        ("Parcel news", "skipped", "opted_out"),
        ("Your parcel shipped.", "skipped", "opted_out"),
    ]
    assert all("opted out" in m["reason"] for m in listed[1]["messages"])
    bodies = [c.params.get("Body") for c in sms.emulator.calls("messages.create")]
    assert bodies == ["Hello!"]


async def test_a_purpose_without_consent_is_skipped_until_the_customer_agrees(
    sqlite_url: str,
) -> None:
    async with chat_on("telegram", APP, database_url=sqlite_url) as chat:
        await chat.send("hi")
        await chat.expect("Hello!")
        baton = chat.baton
        customer_id = await customer_of(chat)
        before = await baton.engine.notify(customer_id, "20% off!", purpose="marketing")
        await chat.expect_no_reply()
        consents = Consents(baton.store)
        await consents.record(customer_id, "marketing", granted=True, source="api")
        after = await baton.engine.notify(customer_id, "20% off!", purpose="marketing")
        await chat.expect("20% off!")
        await consents.record(customer_id, "marketing", granted=False, source="customer")
        withdrawn = await baton.engine.notify(customer_id, "30% off!", purpose="marketing")
        await chat.expect_no_reply()
    assert (before.status, before.reason_code) == ("skipped", "no_consent")
    assert after.status == "queued"
    assert (withdrawn.status, withdrawn.reason_code) == ("skipped", "consent_withdrawn")


async def test_unknown_customers_and_bad_input_are_refused_clearly(sqlite_url: str) -> None:
    async with chat_on("telegram", APP, database_url=sqlite_url) as chat:
        await chat.send("hi")
        await chat.expect("Hello!")
        baton = chat.baton
        customer_id = await customer_of(chat)
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        await add_agent(baton, "grace@example.com", "Grace")
        async with Browser(baton) as boss, Browser(baton) as grace:
            await boss.login("boss@example.com")
            await grace.login("grace@example.com")
            path = f"/api/customers/{customer_id}/messages"
            unknown = await boss.request("POST", "/api/customers/999999/messages", {"text": "x"})
            empty = await boss.request("POST", path, {"text": "   "})
            huge = await boss.request("POST", path, {"text": "x" * 4001})
            purpose = await boss.request("POST", path, {"text": "hi", "purpose": "spam"})
            choices = await boss.request("POST", path, {"text": "hi", "choices": [{"a": 1}]})
            not_theirs = await grace.request("POST", path, {"text": "hi"})
            nobody = await boss.request(
                "POST", "/api/campaigns", {"text": "Sale", "segment": {"memory": {"vip": True}}}
            )
        with pytest.raises(UnknownCustomer):
            await baton.engine.notify(424242, "hello")
        with pytest.raises(BadMessage, match="non-empty"):
            await baton.engine.notify(customer_id, "")
        await chat.expect_no_reply()
    assert unknown[0] == 404
    assert unknown[1]["error"]["code"] == "not_found"
    assert "no customer 999999" in unknown[1]["error"]["message"]
    assert (empty[0], empty[1]["error"]["code"]) == (400, "invalid")
    assert "non-empty" in empty[1]["error"]["message"]
    assert huge[0] == 400
    assert "longer than 4000" in huge[1]["error"]["message"]
    assert purpose[0] == 400
    assert "unknown purpose 'spam'" in purpose[1]["error"]["message"]
    assert choices[0] == 400
    assert not_theirs[0] == 404
    assert nobody[0] == 422, nobody
    assert nobody[1]["error"] == {
        "code": "empty_segment",
        "message": "no customer matches this segment: nothing was sent",
    }


async def test_an_agent_starts_a_new_conversation_with_a_resolved_customer(
    sqlite_url: str,
) -> None:
    async with chat_on("telegram", APP, database_url=sqlite_url) as chat:
        await chat.send("hi")
        await chat.expect("Hello!")
        baton = chat.baton
        customer_id = await customer_of(chat)
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        await add_agent(baton, "grace@example.com", "Grace")
        async with Browser(baton) as boss, Browser(baton) as grace:
            await boss.login("boss@example.com")
            await grace.login("grace@example.com")
            path = f"/api/customers/{customer_id}/conversation"
            stranger = await grace.request("POST", path, {})
            started = await boss.request("POST", path, {"reason": "refund follow-up"})
            conversation_id = started[1]["conversation_id"]
            again = await boss.request("POST", path, {})
            replied = await boss.request(
                "POST",
                f"/api/conversations/{conversation_id}/messages",
                {"text": "Hi Ada, your refund went out today."},
            )
            await chat.expect("Hi Ada, your refund went out today.")
            held = await chat.conversation()
            await chat.send("thanks!")
            await chat.expect_no_reply()  # an agent holds it: the bot stays quiet
            resolved = await boss.request("POST", f"/api/conversations/{conversation_id}/resolve")
            after = await chat.conversation()
    assert stranger[0] == 404
    assert started[0] == 201
    assert again[0] == 409
    assert again[1]["error"]["code"] == "open"
    assert replied[0] == 201
    assert held.status == "agent"
    assert resolved[0] == 200
    assert after.status in ("resolved", "bot")
