"""Intents and the offline matcher, without a server: what starts which flow."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dialogs import App, Context, Intent, Keyword, RegistrationError, flow, run_turn
from dialogs.intents import IntentSet, MatcherClassifier, decided, near_miss, reset_decided
from dialogs.interruptions import Interruptions
from dialogs.matching import Guess, Matcher, normalise
from dialogs.triggers import Message
from examples.understanding_shop import app as shop
from storage.records import CustomerState


def test_normalise_folds_case_accents_apostrophes_and_punctuation() -> None:
    assert normalise("  Café? I'd LIKE   a Refund!! ") == "cafe id like a refund"


def test_a_typo_and_a_paraphrase_find_their_label() -> None:
    matcher = Matcher(
        {
            "refund": ["I want a refund", "I would like to be reimbursed"],
            "order": ["where is my order", "track my parcel"],
        }
    )
    typo = matcher.best("i want a refnud")
    paraphrase = matcher.best("I'd like a reimbursement")
    assert typo is not None
    assert typo.label == "refund"
    assert typo.confidence > 0.6
    assert paraphrase is not None
    assert paraphrase.label == "refund"
    assert matcher.best("hello there") is None


def test_the_same_words_are_certain_and_unrelated_words_are_not() -> None:
    matcher = Matcher({"refund": ["I want a refund"]})
    assert matcher.best("i want a REFUND!") == Guess("refund", 1.0, "I want a refund")
    weather = matcher.best("what is the weather")
    assert weather is None or weather.confidence < 0.3


def test_numbers_in_a_message_do_not_lower_its_confidence() -> None:
    matcher = Matcher({"refund": ["refund my order"]})
    plain, numbered = matcher.best("refund my order"), matcher.best("refund my order 12345678")
    assert plain is not None
    assert numbered is not None
    assert numbered.confidence == plain.confidence


def test_the_most_confident_intent_of_an_app_wins() -> None:
    intents = IntentSet.of(shop)
    ranked = intents.rank("waar blijft mijn bestelling")
    assert [g.label for g in ranked][:1] == ["order_status"]
    refund = intents.intents["refund"]
    order = intents.intents["order_status"]
    message = Message("waar blijft mijn bestelling")
    assert (refund.matches(message), order.matches(message)) == (False, True)


def test_a_pressed_did_you_mean_button_matches_its_intent() -> None:
    refund = Intent("refund", examples=["I want a refund"])
    assert refund.matches(Message(None, refund.choice))
    assert not refund.matches(Message(None, "baton:intent:other"))


def test_near_misses_are_between_near_and_the_threshold() -> None:
    intents = IntentSet.of(shop)
    assert [i.name for i in near_miss(intents, "charged twice")] == ["refund"]
    assert near_miss(intents, "I want a refund") == []
    assert near_miss(intents, "what a lovely day") == []


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Intent("refund", examples=[]),
        lambda: Intent("", examples=["refund"]),
        lambda: Intent("refund", examples=["?!"]),
        lambda: Intent("refund", examples=["refund"], threshold=0),
    ],
)
def test_a_wrong_intent_fails_when_it_is_made(bad: object) -> None:
    with pytest.raises(RegistrationError):
        bad()  # type: ignore[operator]


def test_two_different_intents_with_one_name_fail_when_bound() -> None:
    one = Intent("refund", examples=["refund"])
    two = Intent("refund", examples=["money back"])

    @flow(triggers=[one])
    async def first(ctx: Context) -> None: ...

    @flow(triggers=[two])
    async def second(ctx: Context) -> None: ...

    with pytest.raises(RegistrationError, match="refund"):
        IntentSet.of(App(flows=[first, second]))


class Scripted:
    """An app's own classifier, as a developer writes one."""

    def __init__(self, answer: list[Guess]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        self.asked.append((text, tuple(labels)))
        return self.answer


async def test_the_intents_follow_a_classifier_decision_for_that_text() -> None:
    intents = IntentSet.of(shop)
    refund = intents.intents["refund"]
    classifier = Scripted([Guess("refund", 0.9)])
    guesses = await classifier.classify("something odd", list(intents.intents))
    token = decided("something odd", guesses)
    try:
        assert refund.matches(Message("something odd"))
        assert not refund.matches(Message("a different text"))
    finally:
        reset_decided(token)
    assert not refund.matches(Message("something odd"))


async def test_the_built_in_classifier_answers_only_with_the_labels_asked() -> None:
    classifier = MatcherClassifier(IntentSet.of(shop))
    assert [g.label for g in await classifier.classify("where is my order", ["refund"])] == []
    found = await classifier.classify("where is my order", ["order_status", "refund"])
    assert found[0].label == "order_status"


async def test_an_intent_starts_its_flow_and_a_keyword_still_wins_its_own_words() -> None:
    @flow(triggers=[Keyword("opening hours")])
    async def hours(ctx: Context) -> None:
        await ctx.say("9 to 5")

    app = App(flows=[*shop.flows, hours], start=shop.start)
    IntentSet.of(app)
    state = CustomerState(customer_id=1, conversation_id=1, status="bot", memory={})
    outcome = await run_turn(app, state, {"text": "I'd love to get my money back"}, channel="web")
    assert [r.text for r in outcome.replies] == [
        "I can help with a refund. What's your order number?"
    ]
    outcome = await run_turn(app, state, {"text": "opening hours?"}, channel="web")
    assert [r.text for r in outcome.replies] == ["9 to 5"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("agent please", "human"),
        ("I want a human", "human"),
        ("ik wil graag een medewerker", "human"),
        ("can I speak to someone please", "human"),
        ("what can you help me with", "help"),
        ("forget about that", "cancel"),
        ("my agent number is 5", None),
        ("I need help with my order", None),
        ("I want to talk to a human about my order 1234 and the refund you promised me", None),
        ("Peter", None),
    ],
)
def test_interruptions_are_understood_in_other_words(text: str, kind: str | None) -> None:
    assert Interruptions().classify(text) == kind
