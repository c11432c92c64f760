"""Global interruptions that work in the middle of any flow: help, cancel, a human.

A message is an interruption only when the whole message says so ("help", "cancel",
"talk to a human", "ik wil een medewerker"), never when the words appear inside an answer.
English and Dutch phrases are built in; pass your own to `App(interruptions=...)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Interruptions", "normalise"]


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
        return None
