"""Understanding customers, as they meet it on Telegram, SMS and Slack: a paraphrase starts
the right flow, a near miss gets "Did you mean ...?", and asking for a person in other words
(English or Dutch) in the middle of a question reaches a person."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from bot.testing import CHANNELS, ChatScript, chat_fixture, chat_on, chats_on
from bot.understanding import Understanding, texts
from dialogs import App, Command, Context, flow
from dialogs import knowledge_texts as kb_texts
from dialogs.flows import Texts
from dialogs.languages import Languages
from dialogs.matching import Guess
from examples.understanding_shop import app
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

on_every_channel = pytest.mark.parametrize("shop", CHANNELS, indirect=True)
on_every_channel_sqlite = pytest.mark.parametrize("shop_sqlite", CHANNELS, indirect=True)
shop = chat_fixture(app, name="shop")
shop_sqlite = chat_fixture(app, name="shop_sqlite")
TEXTS = Texts()
NL_HUMAN_WAITING = (
    "Ik heb een medewerker van ons team gevraagd je te helpen. Die antwoordt hier zo snel "
    "mogelijk; je berichten tot nu toe zijn voor hen bewaard."
)


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
    await shop.send("Can I pay by invoice?")
    await shop.expect(re.compile(r"Yes\. You can pay afterwards by invoice.*", re.S))


@on_every_channel
async def test_asking_for_a_person_in_dutch_mid_question_reaches_a_person(
    shop: ChatScript,
) -> None:
    await shop.send("I want a refund")
    await shop.expect("I can help with a refund. What's your order number?")
    await shop.send("ik wil graag een medewerker")
    await shop.expect(NL_HUMAN_WAITING)  # written in Dutch: answered in Dutch
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


# --- answers from the help pages ----------------------------------------------------------------


@on_every_channel
async def test_an_faq_question_is_answered_with_its_source(shop: ChatScript) -> None:
    await shop.send("how long does delivery take?")
    reply = await shop.expect(re.compile(r"Orders placed before 22:00 .*", re.S))
    assert reply.text.endswith(
        "Source: https://shop.example.com/help/faq#how-long-does-delivery-take"
    )
    await shop.send("my item arrived damaged")
    reply = await shop.expect(re.compile(r"If an item arrived damaged .*", re.S))
    assert reply.text.endswith(
        "Source: https://shop.example.com/help/returns#damaged-or-wrong-items"
    )
    assert (await shop.conversation()).status == "bot"


@on_every_channel
async def test_an_unanswerable_question_offers_a_person(shop: ChatScript) -> None:
    await shop.send("Do you sell bicycles?")
    await shop.expect(kb_texts.NOT_FOUND, choices=[kb_texts.A_PERSON, kb_texts.REPHRASE])
    await shop.choose(kb_texts.A_PERSON)
    await shop.expect(TEXTS.human_waiting)
    assert (await shop.conversation()).status == "waiting"


@on_every_channel
async def test_asked_in_other_words_the_question_is_answered(shop: ChatScript) -> None:
    await shop.send("what about the bill")
    await shop.expect(kb_texts.NOT_FOUND)
    await shop.choose(kb_texts.REPHRASE)
    await shop.expect(kb_texts.ASK_AGAIN)
    await shop.send("can I pay by invoice")
    await shop.expect(re.compile(r"Yes\. You can pay afterwards by invoice.*", re.S))


# --- the customer's language ---------------------------------------------------------------------

NL_PICK = "Kies een van de opties."
CODE = re.compile(r"Je koppelcode is ([\d-]+)\. .*", re.S)


async def test_a_dutch_telegram_customer_gets_dutch_texts_on_sms_too(sqlite_url: str) -> None:
    async with chats_on(["telegram", "twilio"], app, database_url=sqlite_url) as chats:
        tg, sms = chats["telegram"], chats["twilio"]
        tg.emulator.speaks(int(tg.customer), "nl")  # type: ignore[attr-defined]
        await tg.send("refund")  # one word says no language: Telegram's setting counts
        await tg.expect("I can help with a refund. What's your order number?")
        await tg.send("12345678")
        await tg.expect("Why would you like a refund?")
        await tg.send("no idea")  # no option: the built-in re-prompt, in Dutch
        await tg.expect(NL_PICK)
        await tg.send("link")
        reply = await tg.expect(CODE)
        found = CODE.fullmatch(reply.text)
        assert found is not None
        await sms.send(found.group(1))
        await sms.expect("Gekoppeld! Deze chat en je Telegram-chat zijn nu één gesprek.")
        await sms.expect("Why would you like a refund?")
        await sms.send("agent")
        await sms.expect(NL_HUMAN_WAITING)
        conversation = await sms.conversation()
        assert conversation.memory["language"] == "nl"


@on_every_channel_sqlite
async def test_what_the_customer_writes_sets_the_language(shop_sqlite: ChatScript) -> None:
    chat = shop_sqlite
    await chat.send("waar is mijn bestelling")
    await chat.expect("What's your order number?")  # the app's own text: not translated
    await chat.send("help")
    reply = await chat.next_reply()
    assert reply.text.startswith("Hiermee kan ik je helpen.")
    assert (await chat.conversation()).memory["language"] == "nl"


async def test_a_flow_sets_the_language_and_it_is_kept(sqlite_url: str) -> None:
    @flow(triggers=[Command("english")])
    async def english(ctx: Context) -> None:
        ctx.language = "en"
        await ctx.say(f"Language: {ctx.language}")

    bilingual = App(flows=[*app.flows, english], start=app.start)
    async with chat_on("twilio", bilingual, database_url=sqlite_url) as chat:
        await chat.send("/english")
        await chat.expect("Language: en")
        await chat.send("ik wil mijn geld terug")  # Dutch words; the flow's choice stands
        await chat.expect("I can help with a refund. What's your order number?")
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)


async def test_an_app_s_own_texts_per_language(sqlite_url: str) -> None:
    own = App(
        flows=list(app.flows),
        start=app.start,
        languages=Languages(texts={"nl": Texts(cancelled="Gestopt. Wat nu?")}),
    )
    async with chat_on("slack", own, database_url=sqlite_url) as chat:
        await chat.send("waar is mijn bestelling")
        await chat.expect("What's your order number?")
        await chat.send("annuleren")
        await chat.expect("Gestopt. Wat nu?")


# --- an app's own classifier ---------------------------------------------------------------------


class Scripted:
    """An app's own intent classifier, as a developer plugs one in."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        self.asked.append(text)
        if "kettle" in text:
            return [Guess("refund", 0.97)]
        if "boom" in text:
            raise RuntimeError("the model service is down")
        return []


async def test_an_app_s_own_classifier_decides_the_intent(sqlite_url: str) -> None:
    classifier = Scripted()
    features = [Understanding(classifier=classifier)]
    async with running_baton(sqlite_url, app, features=features) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("the kettle")  # the matcher alone would not know
        await chat.expect("I can help with a refund. What's your order number?")
        await chat.send("cancel")
        await chat.next()
        await chat.send("boom, where is my order")  # a failing classifier: the matcher decides
        await chat.expect("What's your order number?")
    assert classifier.asked == ["the kettle", "boom, where is my order"]
