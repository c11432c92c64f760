"""Understanding customers, as they meet it on Telegram, SMS and Slack: a paraphrase starts
the right flow, a near miss gets "Did you mean ...?", and asking for a person in other words
(English or Dutch) in the middle of a question reaches a person."""

from __future__ import annotations

import pytest

from bot.testing import CHANNELS, ChatScript, chat_fixture
from bot.understanding import texts
from dialogs.flows import Texts
from examples.understanding_shop import app

on_every_channel = pytest.mark.parametrize("shop", CHANNELS, indirect=True)
shop = chat_fixture(app, name="shop")
TEXTS = Texts()


@on_every_channel
async def test_a_paraphrased_refund_request_starts_the_refund_flow(shop: ChatScript) -> None:
    await shop.send("Hello, I'd like a reimbursement for my kettle")
    await shop.expect("I can help with a refund. What's your order number?")
    await shop.send("12345678")
    await shop.expect("Why would you like a refund?")
    await shop.choose("It arrived damaged")
    await shop.expect("Thanks. The refund for order 12345678 (damaged) is on its way.")


@on_every_channel
async def test_a_dutch_paraphrase_starts_the_order_flow(shop: ChatScript) -> None:
    await shop.send("waar blijft mijn bestelling??")
    await shop.expect("What's your order number?")


@on_every_channel
async def test_a_near_miss_is_offered_and_picked(shop: ChatScript) -> None:
    await shop.send("charged twice")
    await shop.expect(texts.DID_YOU_MEAN, choices=["Get a refund", texts.NONE_OF_THESE])
    await shop.choose("Get a refund")
    await shop.expect("I can help with a refund. What's your order number?")


@on_every_channel
async def test_none_of_these_asks_to_rephrase(shop: ChatScript) -> None:
    await shop.send("charged twice")
    await shop.expect(texts.DID_YOU_MEAN)
    await shop.choose(texts.NONE_OF_THESE)
    await shop.expect(texts.REPHRASE)
    await shop.send("what is the weather like")
    await shop.expect("Hi! I can help with refunds and orders.")


@on_every_channel
async def test_asking_for_a_person_in_dutch_mid_question_reaches_a_person(
    shop: ChatScript,
) -> None:
    await shop.send("I want a refund")
    await shop.expect("I can help with a refund. What's your order number?")
    await shop.send("ik wil graag een medewerker")
    await shop.expect(TEXTS.human_waiting)
    conversation = await shop.conversation()
    assert (conversation.status, conversation.handoff_reason) == (
        "waiting",
        "customer asked for a person",
    )


@on_every_channel
async def test_agent_please_mid_question_is_no_answer(shop: ChatScript) -> None:
    await shop.send("where is my order")
    await shop.expect("What's your order number?")
    await shop.send("agent please")
    await shop.expect(TEXTS.human_waiting)
    assert (await shop.conversation()).status == "waiting"
