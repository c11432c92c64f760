"""The proactive guide's code (docs/guides/proactive.md includes it from here): each test runs
what the page shows, through the test kit and the platforms' emulators, on a real engine and
database."""

from __future__ import annotations

from pathlib import Path

from bot.proactive import Proactive
from bot.testing import ChatScript, chat_on, chats_on
from dialogs import App, Context, Keyword, flow


@flow(triggers=[Keyword("hi")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


# --8<-- [start:prefer-sms]
@flow(triggers=[Keyword("text me")])
async def prefer_sms(ctx: Context) -> None:
    ctx.memory["preferred_channel"] = "twilio"
    await ctx.say("From now on we'll text you.")


# --8<-- [end:prefer-sms]


# --8<-- [start:survey-flow]
@flow()
async def delivery_survey(ctx: Context) -> None:
    answer = await ctx.ask(f"How was the delivery of order {ctx.args['order']}?")
    await ctx.say(f"Thank you! We noted: {answer}")


# --8<-- [end:survey-flow]

APP = App(flows=[hello, prefer_sms, delivery_survey])


def _db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"


async def _customer(chat: ChatScript) -> int:
    await chat.send("hi")
    await chat.expect("Hello!")
    return (await chat.conversation()).customer_id


async def test_a_flow_sets_the_preferred_channel_and_notify_uses_it(tmp_path: Path) -> None:
    async with chats_on(["telegram", "twilio"], APP, database_url=_db(tmp_path)) as chats:
        await chats["telegram"].send("hi")
        await chats["telegram"].expect("Hello!")
        customer_id = (await chats["telegram"].conversation()).customer_id
        await chats["telegram"].send("text me")
        await chats["telegram"].expect("From now on we'll text you.")
        preferred = await chats["telegram"].baton.engine.notify(customer_id, "Hi there")
    # Without an SMS identity the preference cannot be used: the last channel is.
    assert (preferred.status, preferred.channel) == ("queued", "telegram")


async def test_notify_sends_a_message_and_a_question(tmp_path: Path) -> None:
    async with chat_on("telegram", APP, database_url=_db(tmp_path)) as chat:
        customer_id = await _customer(chat)
        engine = chat.baton.engine
        # --8<-- [start:notify]
        record = await engine.notify(customer_id, "Your parcel shipped today.")
        record = await engine.notify(
            customer_id, "Did the replacement arrive?", choices=["Yes", "No"], purpose="service"
        )
        print(record.status, record.channel, record.reason_code, record.reason)
        # --8<-- [end:notify]
        await chat.expect("Your parcel shipped today.")
        await chat.expect("Did the replacement arrive?")
        assert chat.choices == ("Yes", "No")
    assert (record.status, record.channel, record.reason_code) == ("queued", "telegram", None)


async def test_a_flow_campaign_starts_the_flow_for_each_recipient(tmp_path: Path) -> None:
    async with chat_on("twilio", APP, database_url=_db(tmp_path)) as chat:
        customer_id = await _customer(chat)
        engine = chat.baton.engine
        # --8<-- [start:flow-campaign]
        campaign_id, recipients = await engine.feature(Proactive).create_campaign(
            name="delivery survey",
            flow="delivery_survey",  # a flow of the App, by name
            args={"order": "1234"},  # its ctx.args
            purpose="surveys",
            segment={"customers": [customer_id]},
        )
        # --8<-- [end:flow-campaign]
        done = await engine.feature(Proactive).finished(campaign_id or 0)
    # "surveys" needs consent, which this customer never gave: skipped, with the reason.
    assert recipients == 1
    assert done["skipped_reasons"] == {"no_consent": 1}


async def test_a_flow_campaign_asks_and_the_answer_continues_the_flow(tmp_path: Path) -> None:
    async with chat_on("slack", APP, database_url=_db(tmp_path)) as chat:
        customer_id = await _customer(chat)
        campaign_id, _ = await chat.baton.engine.feature(Proactive).create_campaign(
            name="delivery survey",
            flow="delivery_survey",
            args={"order": "1234"},
            purpose="service",
            segment={"customers": [customer_id]},
        )
        await chat.expect("How was the delivery of order 1234?")
        await chat.send("fast")
        await chat.expect("Thank you! We noted: fast")
        done = await chat.baton.engine.feature(Proactive).finished(campaign_id or 0)
    assert done["counts"]["started"] == 1
