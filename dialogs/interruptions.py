"""Global interruptions that work in the middle of any flow: help, cancel, a human.

A message is an interruption only when the whole message says so ("help", "cancel",
"talk to a human", "ik wil een medewerker"), never when the words appear inside an answer.
English and Dutch phrases are built in; pass your own to `App(interruptions=...)`.

Beyond the exact phrases, a short message (up to `UNDERSTOOD_MAX_WORDS` words) is compared
with English and Dutch examples by the offline matcher of the intents (`dialogs.matching`),
so "agent please", "I want a human" or "ik wil graag een medewerker" reach a person and are
never taken as the answer to an open question. The bar is higher than for intents
(`UNDERSTOOD_THRESHOLD`): "my agent number is 5" stays an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dialogs.matching import STOPWORDS, Matcher, words

__all__ = [
    "EXAMPLES",
    "UNDERSTOOD_MAX_WORDS",
    "UNDERSTOOD_THRESHOLD",
    "Interruptions",
    "normalise",
]

UNDERSTOOD_THRESHOLD = 0.7
"""The confidence from which a message means help, cancel or a person without its exact words."""
UNDERSTOOD_MAX_WORDS = 8
"""Longer messages are never taken as an interruption by similarity."""

EXAMPLES: dict[str, tuple[str, ...]] = {
    "human": (
        "agent please",
        "an agent please",
        "I want a human",
        "I want to talk to a human",
        "let me speak to someone",
        "can I talk to a real person",
        "get me a person",
        "connect me to an agent",
        "transfer me to a human",
        "speak to customer service",
        "human please",
        "real person please",
        "put me through to someone",
        "ik wil een medewerker",
        "ik wil een mens spreken",
        "medewerker alstublieft",
        "kan ik iemand spreken",
        "verbind me door met een medewerker",
        "graag een medewerker spreken",
        "ik wil met iemand praten",
        "een echt persoon graag",
    ),
    "help": (
        "help please",
        "what can you do",
        "what can I ask you",
        "show me the menu",
        "how does this work",
        "what are my options",
        "wat kun je allemaal",
        "hoe werkt dit",
        "wat zijn de opties",
        "help mij",
    ),
    "cancel": (
        "cancel this",
        "stop this",
        "forget about it",
        "never mind that",
        "let's start over",
        "I don't want to continue",
        "laat maar zitten",
        "stop maar",
        "annuleer dit",
        "ik wil stoppen",
        "opnieuw beginnen",
    ),
}
"""Example messages of each interruption, matched by similarity (English and Dutch)."""

_matcher: list[Matcher] = []
_CLUES: set[str] = set()
"""The meaningful words of the examples (and their first five letters, for typos such as
"medewerkr"): a message with none of them is no interruption, without asking the matcher."""


def _clue(word: str) -> bool:
    return word in _CLUES or (len(word) >= 5 and word[:5] in _CLUES)


def _understood(said: str) -> str | None:
    said_words = said.split()
    if len(said_words) > UNDERSTOOD_MAX_WORDS:
        return None
    if not _matcher:
        _matcher.append(Matcher(EXAMPLES))
        for example in (e for examples in EXAMPLES.values() for e in examples):
            for word in words(example):
                if word not in STOPWORDS:
                    _CLUES.update((word, word[:5]) if len(word) >= 5 else (word,))
    if not any(_clue(w) for w in said_words if w not in STOPWORDS):
        return None
    guess = _matcher[0].best(said)
    if guess is not None and guess.confidence >= UNDERSTOOD_THRESHOLD:
        return guess.label
    return None


def normalise(text: str) -> str:
    """Lower-case, punctuation removed, spaces collapsed."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


_HELP = {
    "help",
    "hulp",
    "menu",
    "what can you do",
    "wat kun je",
    "wat kan je",
    "help me",
    "help please",
    "i need help",
    "info",
}
_CANCEL = {
    "cancel",
    "cancel that",
    "never mind",
    "nevermind",
    "forget it",
    "stop this",
    "start over",
    "restart",
    "annuleren",
    "annuleer",
    "laat maar",
    "stoppen",
    "bot",
    "back to the bot",
    "terug naar de bot",
}
_HUMAN_WORDS = (
    "human",
    "person",
    "agent",
    "someone",
    "somebody",
    "real person",
    "operator",
    "representative",
    "people",
    "a human",
    "a person",
    "an agent",
    "a real person",
    "customer service",
    "support",
)
_HUMAN = {
    "agent",
    "human",
    "person",
    "operator",
    "representative",
    "real person",
    "a human",
    "a person",
    "medewerker",
    "mens",
    "een mens",
    "een medewerker",
    "klantenservice",
    "persoon",
    "een persoon",
}
_HUMAN_RE = re.compile(
    r"^(?:(?:i want|i would like|i d like|i need|can i|could i|let me|please let me|"
    r"i want to|i d like to)\s+)?(?:to\s+)?(?:talk|speak|chat)\s+(?:to|with)\s+(?:"
    + "|".join(re.escape(w) for w in _HUMAN_WORDS)
    + r")(?:\s+please)?$"
    r"|^(?:ik wil|mag ik|kan ik)?\s*(?:met\s+)?(?:een\s+)?(?:mens|medewerker|persoon)"
    r"(?:\s+spreken)?(?:\s+alstublieft|\s+aub|\s+graag)?$"
)


@dataclass(frozen=True, slots=True)
class Interruptions:
    """The phrases of each interruption. Extend with `Interruptions(help={...} | more)`."""

    help: frozenset[str] = field(default_factory=lambda: frozenset(_HELP))
    cancel: frozenset[str] = field(default_factory=lambda: frozenset(_CANCEL))
    human: frozenset[str] = field(default_factory=lambda: frozenset(_HUMAN))

    def classify(self, text: str | None) -> str | None:
        """ "help", "cancel", "human" or None for an ordinary message."""
        if not text or len(text) > 80:
            return None
        said = normalise(text)
        if not said:
            return None
        if said in self.human or _HUMAN_RE.match(said):
            return "human"
        if said in self.cancel:
            return "cancel"
        if said in self.help:
            return "help"
        return _understood(said)
