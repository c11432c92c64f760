"""The understanding guide's code (docs/guides/understanding.md includes it from here and from
examples/understanding_shop.py): each test runs what the page shows, on Telegram, SMS and
Slack through the emulators where a customer is in it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.emulators import OpenAIEmulator
from bot.settings import Settings
from bot.testing import CHANNELS, chat_on
from bot.understanding import llm_from_settings
from dialogs import App, Command, Context, flow

# --8<-- [start:import-llm]
from dialogs.llm import LLM, grounded_answer

# --8<-- [end:import-llm]
from dialogs.matching import Guess
from examples.understanding_shop import app, kb, order_status, refund
from storage import ConsoleStore


# --8<-- [start:classifier]
class MyModel:
    """An intent classifier of your own: a model, a service, ..."""

    async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        if "kettle" in text and "refund" in labels:
            return [Guess("refund", 0.9)]  # an intent's name and a confidence (0..1)
        return []  # none of them


# --8<-- [end:classifier]


async def test_your_own_classifier_decides_the_intent(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}", gc_freeze=False
    )
    # --8<-- [start:create-app]
    from bot.app import create_app
    from bot.understanding import Understanding

    web_app = await create_app(settings, app, features=[Understanding(classifier=MyModel())])
    # --8<-- [end:create-app]
    async with TestClient(TestServer(web_app)) as client:  # a customer on the web chat
        await client.get("/chat")  # the chat's session cookie
        await client.post("/chat/api/messages", json={"text": "my kettle is broken"})
        response = await client.get("/chat/api/messages", params={"after": "0", "wait": "10"})
        replies = (await response.json())["replies"]
    assert [r["text"] for r in replies] == ["I can help with a refund. What's your order number?"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_your_own_texts_per_language(channel: str, tmp_path: Path) -> None:
    # --8<-- [start:texts]
    from dialogs import App, Texts
    from dialogs.languages import Languages

    app = App(
        flows=[refund, order_status],
        texts=Texts(cancelled="Stopped. What now?"),
        languages=Languages(texts={"nl": Texts(cancelled="Gestopt. Wat nu?")}),
    )
    # --8<-- [end:texts]
    url = f"sqlite+aiosqlite:///{tmp_path / 'texts.db'}"
    async with chat_on(channel, app, database_url=url) as chat:
        await chat.send("where is my order")
        await chat.expect("What's your order number?")
        await chat.send("cancel that")  # a one-word "cancel" is an opt-out by SMS
        await chat.expect("Stopped. What now?")
        await chat.send("waar is mijn bestelling")  # Dutch words: the customer reads Dutch
        await chat.expect("What's your order number?")  # the app's own text: as written
        await chat.send("annuleren")
        await chat.expect("Gestopt. Wat nu?")


# --8<-- [start:llm]
llm = LLM(base_url="http://127.0.0.1:11434/v1", model="llama3.1")
# or from BATON_LLM_BASE_URL, BATON_LLM_MODEL, ...: bot.understanding.llm_from_settings(settings)


@flow(triggers=[Command("ask")])
async def ask(ctx: Context) -> None:
    question = await ctx.ask("What would you like to know?")
    await grounded_answer(ctx, llm, kb, question)


# --8<-- [end:llm]


def test_the_settings_describe_the_same_model() -> None:
    settings = Settings(llm_base_url="http://127.0.0.1:11434/v1", llm_model="llama3.1")
    assert llm_from_settings(settings) == llm


@pytest.mark.parametrize("channel", CHANNELS)
async def test_ask_answers_through_the_emulated_model(
    channel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --8<-- [start:emulator]
    emulator = OpenAIEmulator()
    emulator.answer(
        {
            "answer": "Yes, within 14 days.",
            "citations": ["faq.md#can-i-pay-by-invoice"],
            "supported": True,
        }
    )
    async with emulator.run() as url:
        llm = LLM(base_url=url + "/v1", model="test")
        # --8<-- [end:emulator]
        monkeypatch.setattr(f"{__name__}.llm", llm)  # the page's `ask` asks the emulator
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}"
        async with chat_on(channel, App(flows=[ask]), database_url=database_url) as chat:
            await chat.send("/ask")
            await chat.expect("What would you like to know?")
            await chat.send("Can I pay by invoice?")
            await chat.expect(
                "Yes, within 14 days.\n\n"
                "Source: https://shop.example.com/help/faq#can-i-pay-by-invoice"
            )
    (call,) = emulator.calls("chat.completions")
    assert call.params["model"] == "test"


async def test_the_agent_gets_an_llm_summary_at_handoff(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'summary.db'}"
    # --8<-- [start:llm-summary]
    emulator = OpenAIEmulator()
    emulator.answer("Ada asks where order 12345678 is and wants a person.")
    async with (
        emulator.run() as url,
        chat_on("telegram", app, database_url=database_url, llm_base_url=url + "/v1") as chat,
    ):
        await chat.send("agent please")  # a handoff starts; the customer is not kept waiting
        await chat.next_reply()
        [handoff] = await ConsoleStore(chat.baton.store).open_handoffs()
        # ... moments later, the console shows handoff["summary"]["llm"]:
        # {"text": "Ada asks ...", "error": None, "model": ..., "tokens_in": ...,
        #  "tokens_out": ..., "cost": ..., "attempts": 1, "seconds": ..., "at": ...}
        # --8<-- [end:llm-summary]
        for _ in range(200):
            [handoff] = await ConsoleStore(chat.baton.store).open_handoffs()
            if "text" in handoff["summary"].get("llm", {}):
                break
            await asyncio.sleep(0.05)
    assert handoff["summary"]["llm"]["text"] == (
        "Ada asks where order 12345678 is and wants a person."
    )
    assert "last_messages" in handoff["summary"]
