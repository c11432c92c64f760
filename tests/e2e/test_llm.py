"""The optional LLM against the shipped OpenAI-compatible emulator, through the real `openai`
client on loopback, on Telegram, SMS and Slack: a grounded answer cites its passage, an answer
without support is not sent, and a restart in the middle of a flow does not call the model
again."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.emulators import OpenAIEmulator
from bot.testing import CHANNELS, chat_on
from dialogs import App, Command, Context, flow
from dialogs import knowledge_texts as kb_texts
from dialogs.flows import Texts
from dialogs.knowledge import KnowledgeBase
from dialogs.llm import LLM, LLMClassifier, extract, grounded_answer, mask
from examples.understanding_shop import kb

INVOICE = "faq.md#can-i-pay-by-invoice"
INVOICE_SOURCE = "https://shop.example.com/help/faq#can-i-pay-by-invoice"


@pytest.fixture
async def model() -> AsyncIterator[tuple[OpenAIEmulator, LLM]]:
    emulator = OpenAIEmulator()
    async with emulator.run() as url:
        yield emulator, LLM(base_url=url + "/v1", model="emulated", timeout=5, retries=1)


def asking(llm: LLM, base: KnowledgeBase) -> App:
    @flow(name="knowledge_llm")
    async def answer(ctx: Context) -> None:
        await grounded_answer(ctx, llm, base)

    return App(start=answer)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_grounded_answer_cites_its_passage(
    channel: str, model: tuple[OpenAIEmulator, LLM], tmp_path: Path
) -> None:
    emulator, llm = model
    emulator.answer(
        {
            "answer": "Yes, within 14 days, up to 500 euro.",
            "citations": [INVOICE],
            "supported": True,
        }
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}"
    async with chat_on(channel, asking(llm, kb), database_url=url) as chat:
        await chat.send(
            "Can I pay by invoice later? Mail me at ada@example.com or +31 6 1234 5678"
        )
        await chat.expect(f"Yes, within 14 days, up to 500 euro.\n\nSource: {INVOICE_SOURCE}")
    (call,) = emulator.calls("chat.completions")
    sent = call.params["messages"][1]["content"]
    assert f"[{INVOICE}]" in sent  # retrieval first: the passage was given
    assert "ada@example.com" not in sent
    assert "+31 6 1234 5678" not in sent
    assert "[email]" in sent
    assert "[phone]" in sent
    assert call.params["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_answer_without_support_is_not_sent(
    channel: str, model: tuple[OpenAIEmulator, LLM], tmp_path: Path
) -> None:
    emulator, llm = model
    emulator.answer(
        # cites a passage it was not given: made up, never sent
        {"answer": "Yes, we take bitcoin.", "citations": ["crypto.md#bitcoin"], "supported": True},
        {"answer": "Sure, any time.", "citations": [], "supported": False},
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}"
    async with chat_on(channel, asking(llm, kb), database_url=url) as chat:
        await chat.send("Can I pay with bitcoin by invoice?")
        await chat.expect(kb_texts.NOT_FOUND, choices=[kb_texts.A_PERSON, kb_texts.REPHRASE])
        await chat.choose(kb_texts.REPHRASE)
        await chat.expect(kb_texts.ASK_AGAIN)
        await chat.send("so can I pay the invoice in bitcoin")
        await chat.expect(kb_texts.STILL_NOT_FOUND)
        await chat.choose(kb_texts.A_PERSON)
        await chat.expect(Texts().human_waiting)
        replies = [r.text for r in chat.replies]
    assert not any("bitcoin" in text for text in replies)
    assert len(emulator.calls("chat.completions")) == 2


async def test_weak_retrieval_never_asks_the_model(
    model: tuple[OpenAIEmulator, LLM], tmp_path: Path
) -> None:
    emulator, llm = model
    url = f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}"
    async with chat_on("twilio", asking(llm, kb), database_url=url) as chat:
        await chat.send("who won the football last night")
        await chat.expect(kb_texts.NOT_FOUND)
    assert emulator.calls("chat.completions") == []


async def test_a_restart_mid_flow_does_not_call_the_model_again(
    model: tuple[OpenAIEmulator, LLM], tmp_path: Path
) -> None:
    emulator, llm = model
    emulator.answer({"order_number": "12345678", "email": None})

    @flow(triggers=[Command("claim")])
    async def claim(ctx: Context) -> None:
        slots = await extract(
            ctx,
            llm,
            ctx.trigger.text or "",
            {"order_number": "the 8-digit order number", "email": "an e-mail address"},
        )
        reason = await ctx.ask(f"What went wrong with order {slots['order_number']}?")
        await ctx.say(f"Claim for {slots['order_number']} filed: {reason}.")

    app = App(flows=[claim])
    url = f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}"
    async with chat_on("twilio", app, database_url=url) as chat:
        await chat.send("/claim my order 12345678 is broken")
        await chat.expect("What went wrong with order 12345678?")
    assert len(emulator.calls("chat.completions")) == 1
    # A new process on the same database: the flow is replayed from its journal.
    async with chat_on("twilio", app, database_url=url) as chat:
        await chat.send("the screen cracked")
        await chat.expect("Claim for 12345678 filed: the screen cracked.")
    assert len(emulator.calls("chat.completions")) == 1


async def test_timeouts_and_server_errors_are_retried_and_the_cost_recorded(
    model: tuple[OpenAIEmulator, LLM],
) -> None:
    emulator, _ = model
    async with emulator.run() as url:
        llm = LLM(base_url=url, model="m", retries=2, price_in=1_000_000, price_out=2_000_000)
        emulator.fail_next(1, status=503)
        emulator.answer("hello there")
        record = await llm.chat([{"role": "user", "content": "say hello"}])
    assert (record["content"], record["attempts"]) == ("hello there", 2)
    assert (record["tokens_in"], record["tokens_out"]) == (2, 2)
    assert record["cost"] == 2 * 1 + 2 * 2


async def test_the_llm_classifier_answers_only_with_known_intents(
    model: tuple[OpenAIEmulator, LLM],
) -> None:
    emulator, llm = model
    classifier = LLMClassifier(llm, {"refund": ["I want my money back"]})
    emulator.answer({"intent": "refund", "confidence": 0.92}, {"intent": "pizza", "confidence": 1})
    found = await classifier.classify("reimburse me", ["refund", "order_status"])
    assert [(g.label, g.confidence) for g in found] == [("refund", 0.92)]
    assert await classifier.classify("a pizza", ["refund", "order_status"]) == []
    emulator.fail_next(5, status=500)
    assert await classifier.classify("reimburse me", ["refund"]) == []


def test_personal_data_is_masked() -> None:
    assert mask("call +31 6 1234 5678 or 0612345678, mail ada.l@example.co.uk") == (
        "call [phone] or [phone], mail [email]"
    )
    assert mask("order 1234 of 3 items") == "order 1234 of 3 items"
    assert re.fullmatch(r"\[phone\]", mask("+14155550123"))
