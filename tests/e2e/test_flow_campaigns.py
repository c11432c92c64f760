"""Flow campaigns end to end: a campaign that starts a flow for each recipient (issue 15, "one
message or flow to a segment"), through the real webhooks and the emulators: the question
reaches Telegram, SMS and Slack and each answer continues the flow; an opted-out SMS customer
is skipped with the reason; a restart mid-campaign starts nobody's flow twice."""

from __future__ import annotations

from pathlib import Path

from bot.proactive import Proactive
from bot.testing import ChatScript, chat_with_restarts, chats_on
from dialogs import App, Context, Keyword, flow
from tests.console.support import Browser, add_agent

CHANNELS = ["telegram", "twilio", "slack"]


@flow(triggers=[Keyword("hi")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


@flow()
async def delivery_check(ctx: Context) -> None:
    answer = await ctx.ask(f"Did order {ctx.args['order']} arrive?")
    await ctx.say(f"Thanks, noted: {answer}")


APP = App(flows=[hello, delivery_check])


async def _greeted(chat: ChatScript) -> int:
    await chat.send("hi")
    await chat.expect("Hello!")
    return (await chat.conversation()).customer_id


async def test_a_flow_campaign_asks_on_three_channels_and_skips_an_opted_out_sms_customer(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"
    async with chats_on(CHANNELS, APP, database_url=url) as chats:
        ids = {c: await _greeted(chat) for c, chat in chats.items()}
        stopped = chats["twilio"].with_customer("+15551230002")
        stopped_id = await _greeted(stopped)
        await stopped.send("STOP")
        await stopped.expect_no_reply()
        baton = chats["telegram"].baton
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        async with Browser(baton) as boss:
            await boss.login("boss@example.com")
            status, body = await boss.request(
                "POST",
                "/api/campaigns",
                {
                    "name": "delivery check",
                    "flow": "delivery_check",
                    "args": {"order": "1234"},
                    "segment": {"customers": [*ids.values(), stopped_id]},
                },
            )
            assert status == 201, body
            campaign_id = body["campaign"]["id"]
            for chat in chats.values():
                await chat.expect("Did order 1234 arrive?")
                await chat.send("yes")
                await chat.expect("Thanks, noted: yes")
            done = await baton.engine.feature(Proactive).finished(campaign_id)
            _, skipped = await boss.request(
                "GET", f"/api/campaigns/{campaign_id}/recipients?status=skipped"
            )
            _, bad = await boss.request(
                "POST", "/api/campaigns", {"flow": "nope", "segment": {"customers": [1]}}
            )
        await stopped.expect_no_reply()
    assert done["flow"] == "delivery_check"
    assert done["args"] == {"order": "1234"}
    assert done["status"] == "done"
    assert done["counts"]["started"] == 3
    assert done["skipped_reasons"] == {"opted_out": 1}
    [row] = skipped["recipients"]
    assert (row["customer_id"], row["reason_code"]) == (stopped_id, "opted_out")
    assert "opted out on twilio" in row["reason"]
    assert bad["error"]["code"] == "invalid"


async def test_a_restart_mid_flow_campaign_starts_nobodys_flow_twice(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"
    numbers = [f"+1555123{n:04d}" for n in range(1, 7)]
    # One SMS a second: six recipients take seconds, so the restart falls in the middle.
    async with chat_with_restarts("twilio", APP, database_url=url, twilio_rate=2.0) as session:
        assert session.chat is not None
        chats = [session.chat.with_customer(n) for n in numbers]
        ids = [await _greeted(chat) for chat in chats]
        feature = session.chat.baton.engine.feature(Proactive)
        # The first recipient's flow was started, and Baton died before recording it: the
        # campaign (id 1) must not start it again.
        assert await session.chat.baton.engine.start_flow(
            ids[0], "delivery_check", key=f"campaign:1:customer:{ids[0]}", order="77"
        )
        campaign_id, total = await feature.create_campaign(
            name="restart",
            flow="delivery_check",
            args={"order": "77"},
            purpose="service",
            segment={"customers": ids},
        )
        assert (campaign_id, total) == (1, 6)
        await chats[1].expect("Did order 77 arrive?")
        before = await feature.db.campaign(1)
        restarted = await session.restart()
        feature = restarted.baton.engine.feature(Proactive)
        done = await feature.finished(1)
        chats = [restarted.with_customer(n) for n in numbers]
        for n, chat in enumerate(chats):
            if n != 1:  # the second customer's question was read before the restart
                await chat.expect("Did order 77 arrive?")
            await chat.send("no")
            await chat.expect("Thanks, noted: no")
        for chat in chats:
            await chat.expect_no_reply()
        asked = [
            [c.params.get("Body") for c in session.chat.emulator.calls("messages.create")].count(
                "Did order 77 arrive?"
            )
        ]
    assert before is not None
    assert before["status"] == "running"
    assert before["counts"]["pending"] > 0
    assert done["counts"]["started"] == 6
    assert done["counts"]["pending"] == 0
    assert asked == [6]
