"""Surveys after a conversation, on every channel: a resolution followed by CSAT and a
comment; a low score that reopens the conversation for a person with the reason; an answer
out of range asked again; no second survey within the interval; NPS typed; a bot-contained
flow followed by a survey; an App's own survey flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.followup import texts
from bot.testing import CHANNELS, ChatScript, chat_on
from dialogs import App, Context, Keyword, Texts, flow
from storage import FollowupStore
from tests.console.support import add_agent, handoffs_of

TEXTS = Texts()
CSAT = texts.QUESTIONS["csat"]
FIVE = ("1", "2", "3", "4", "5")


@flow(triggers=[Keyword("hello")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


APP = App(flows=[hello])


def _db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"


async def _resolved_by_grace(
    chat: ChatScript, email: str = "grace@example.com"
) -> tuple[int, int]:
    """The customer asks for a person; Grace claims and resolves; (conversation, agent) ids."""
    await chat.send("agent")
    await chat.expect(TEXTS.human_waiting)
    conversation = await chat.conversation()
    grace = await add_agent(chat.baton, email, "Grace")
    row = await chat.baton.store.conversation(conversation.customer_id)
    handoffs = handoffs_of(chat.baton)
    await handoffs.claim(int(row["id"]), conversation.customer_id, grace)
    await handoffs.resolve(int(row["id"]), conversation.customer_id, grace, seen=None)
    await chat.baton.settle()
    return int(row["id"]), grace.id


async def _read_until(chat: ChatScript, text: str) -> None:
    """Pass over the queue notices and the agent joining, up to `text`."""
    for _ in range(10):
        reply = await chat.next_reply()
        if reply.text == text:
            return
    raise AssertionError(f"never got {text!r}")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_resolution_is_followed_by_csat_and_a_comment(
    channel: str, tmp_path: Path
) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path), survey_after="agent") as chat:
        conversation_id, agent_id = await _resolved_by_grace(chat)
        await _read_until(chat, TEXTS.resolved)
        await chat.expect(CSAT, choices=FIVE)
        await chat.choose("5")
        await chat.expect(texts.COMMENT)
        await chat.send("Grace was <b>great</b>")
        await chat.expect(texts.THANKS)
        await chat.baton.settle()
        customer_id = (await chat.conversation()).customer_id
        answers = await FollowupStore(chat.baton.store).surveys(customer_id)
        assert [
            (a["kind"], a["score"], a["comment"], a["channel"], a["after"]) for a in answers
        ] == [("csat", 5, "Grace was <b>great</b>", channel, "agent")]
        assert answers[0]["conversation_id"] == conversation_id
        assert answers[0]["agent_id"] == agent_id
        assert (await chat.conversation()).status == "bot"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_low_score_reopens_the_conversation_for_a_person(
    channel: str, tmp_path: Path
) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path), survey_after="agent") as chat:
        await _resolved_by_grace(chat)
        await _read_until(chat, TEXTS.resolved)
        await chat.expect(CSAT, choices=FIVE)
        await chat.send("9")  # out of range: asked again
        await chat.expect(TEXTS.pick_a_choice, choices=FIVE)
        await chat.choose("1")
        await chat.expect(texts.COMMENT)
        await chat.send("it took three days")
        await chat.expect(texts.LOW_SCORE_REPLY)
        await chat.expect(TEXTS.human_waiting)
        conversation = await chat.conversation()
        assert conversation.status == "waiting"
        assert (
            conversation.handoff_reason == 'low CSAT score 1/5 in the survey: "it took three days"'
        )


@pytest.mark.parametrize("channel", ["twilio"])
async def test_a_customer_is_not_surveyed_twice_within_the_interval(
    channel: str, tmp_path: Path
) -> None:
    async with chat_on(channel, APP, database_url=_db(tmp_path), survey_after="agent") as chat:
        await _resolved_by_grace(chat)
        await _read_until(chat, TEXTS.resolved)
        await chat.expect(CSAT, choices=FIVE)
        await chat.send("4")
        await chat.expect(texts.COMMENT)
        await chat.send("skip")
        await chat.expect(texts.THANKS)
        await _resolved_by_grace(chat, "ada@example.com")
        await _read_until(chat, TEXTS.resolved)
        await chat.expect_no_reply()  # surveyed minutes ago: not again
        customer_id = (await chat.conversation()).customer_id
        answers = await FollowupStore(chat.baton.store).surveys(customer_id)
        assert [(a["score"], a["comment"]) for a in answers] == [(4, None)]


@pytest.mark.parametrize("channel", ["telegram"])
async def test_nps_is_a_typed_number_and_a_bot_contained_flow_is_surveyed(
    channel: str, tmp_path: Path
) -> None:
    nps = texts.QUESTIONS["nps"]
    async with chat_on(
        channel,
        APP,
        database_url=_db(tmp_path),
        survey_kinds=["nps"],
        survey_after="bot",
        survey_comment=False,
    ) as chat:
        await chat.send("hello")
        await chat.expect("Hello!")
        await chat.baton.settle()
        await chat.expect(nps)
        await chat.send("eleven")
        await chat.expect(texts.SCORE_RANGE.format(low=0, high=10))
        await chat.send("10")
        await chat.expect(texts.THANKS)
        await chat.baton.settle()
        customer_id = (await chat.conversation()).customer_id
        answers = await FollowupStore(chat.baton.store).surveys(customer_id)
        assert [(a["kind"], a["score"], a["flow"], a["after"]) for a in answers] == [
            ("nps", 10, "hello", "bot")
        ]


@flow(name="baton_survey")
async def own_survey(ctx: Context) -> None:
    stars = await ctx.ask("Stars for us, 1 to 3?", choices=["1", "2", "3"])
    await ctx.emit(
        "survey.answered",
        {"kind": "csat", "score": int(stars), "channel": ctx.channel, "after": "agent"},
    )
    await ctx.say("Noted, thanks.")


@pytest.mark.parametrize("channel", ["slack"])
async def test_an_app_replaces_the_survey_with_its_own_flow(channel: str, tmp_path: Path) -> None:
    app = App(flows=[hello, own_survey])
    async with chat_on(channel, app, database_url=_db(tmp_path), survey_after="agent") as chat:
        await _resolved_by_grace(chat)
        await _read_until(chat, TEXTS.resolved)
        await chat.expect("Stars for us, 1 to 3?", choices=("1", "2", "3"))
        await chat.choose("3")
        await chat.expect("Noted, thanks.")


@pytest.mark.parametrize("channel", ["telegram"])
async def test_a_survey_can_come_a_while_after_the_resolution(
    channel: str, tmp_path: Path
) -> None:
    async with chat_on(
        channel, APP, database_url=_db(tmp_path), survey_after="agent", survey_delay_minutes=120
    ) as chat:
        await _resolved_by_grace(chat)
        await _read_until(chat, TEXTS.resolved)
        await chat.baton.advance(3600)
        await chat.expect_no_reply()  # an hour later: not yet
        await chat.baton.advance(3600 + 60)
        await chat.expect(CSAT, choices=FIVE)
