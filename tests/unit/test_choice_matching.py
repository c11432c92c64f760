"""Typed answers to a question with options, as customers type them: a table of inputs and
the option each picks (None: not understood, the question is asked again)."""

from __future__ import annotations

import pytest

from dialogs import Choice, Prompt
from dialogs.prompts import match_choice

GREETING = (
    Choice("order", "Where is my order?"),
    Choice("faq", "A question"),
    Choice("preferences", "My preferences"),
    Choice("agent", "Talk to a person"),
)
YES_NO = (Choice("yes", "Yes"), Choice("no", "No"))
TRACK = (Choice("track", "Track it"), Choice("agent", "Talk to a person"))


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("Where is my order?", "order"),
        ("where is my order", "order"),
        ("WHERE IS MY ORDER", "order"),
        ("  where   is my order!!  ", "order"),
        ("📦 where is my order 🙏", "order"),
        ("hi, where is my order please", "order"),
        ("whre is my ordr", "order"),  # a close spelling of one option
        ("order", "order"),  # the value
        ("1", "order"),
        ("2", "faq"),
        ("option 2", "faq"),
        ("Option 2.", "faq"),
        ("nr 2", "faq"),
        ("2 please", "faq"),
        ("the second one please", "faq"),
        ("third", "preferences"),
        ("last", "agent"),
        ("a question", "faq"),
        ("question", "faq"),  # the answer is in one label
        ("preferences", "preferences"),
        ("talk to a person", "agent"),
        ("person", "agent"),
        # not understood: nothing fits, or two options fit equally
        ("5", None),
        ("0", None),
        ("my", None),  # in two labels
        ("is", None),
        ("a", None),
        ("thanks!", None),
        ("", None),
        ("🙂", None),
        ("opening hours", None),
        ("where is my order or a question", None),  # two labels in the answer
    ],
)
def test_a_typed_answer_picks_the_option_a_person_means(typed: str, picked: str | None) -> None:
    found = match_choice(GREETING, typed)
    assert (found.value if found else None) == picked


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("yes", "yes"),
        ("Yes please", "yes"),
        ("no thanks", "no"),
        ("NO.", "no"),
        ("Yess", "yes"),
        ("yes or no", None),
        ("maybe", None),
    ],
)
def test_yes_and_no_as_typed(typed: str, picked: str | None) -> None:
    found = match_choice(YES_NO, typed)
    assert (found.value if found else None) == picked


@pytest.mark.parametrize(
    ("typed", "picked"),
    [("track", "track"), ("Track it!", "track"), ("1", "track"), ("2", "agent"), ("it", None)],
)
def test_a_prompt_reads_the_choice_a_typed_reply_selects(typed: str, picked: str | None) -> None:
    found = Prompt("What would you like?", TRACK).choice_for(typed)
    assert (found.value if found else None) == picked
