"""Channel-neutral prompts: what the bot says, before any adapter renders it.

A flow never writes Telegram keyboards or Slack blocks. It says a `Prompt` (text, choices,
media) and each adapter renders it for its channel: inline keyboard on Telegram, Block Kit
buttons on Slack, numbered options on SMS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Choice", "Media", "Prompt"]


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a question: a stable `value` the flow sees and a `label` people read.

    Example:
        >>> Choice("track", "Track my parcel")
    """

    value: str
    """What `ctx.ask` returns when this option is picked; stable across wording changes."""
    label: str = ""
    """What the customer sees; defaults to the value."""

    def __post_init__(self) -> None:
        if not self.value.strip():
            raise ValueError(
                "Choice value must be a non-empty string, e.g. Choice('track', 'Track')"
            )
        if not self.label:
            object.__setattr__(self, "label", self.value)


@dataclass(frozen=True, slots=True)
class Media:
    """A picture, document, audio or video, referred to by URL."""

    kind: str
    """One of "image", "document", "audio", "video", "other"."""
    url: str
    mime_type: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """One outbound message in channel-neutral form."""

    text: str
    choices: tuple[Choice, ...] = ()
    media: tuple[Media, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Free-form hints for adapters (e.g. {"request_contact": True} on Telegram)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form, as stored in the outbox."""
        data: dict[str, Any] = {"text": self.text}
        if self.choices:
            data["choices"] = [[c.value, c.label] for c in self.choices]
        if self.media:
            data["media"] = [[m.kind, m.url, m.mime_type, m.name] for m in self.media]
        if self.meta:
            data["meta"] = dict(self.meta)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prompt:
        """The inverse of `to_json`."""
        return cls(
            text=str(data.get("text", "")),
            choices=tuple(Choice(str(v), str(lbl)) for v, lbl in data.get("choices", ())),
            media=tuple(Media(k, u, t, n) for k, u, t, n in data.get("media", ())),
            meta=dict(data.get("meta", {})),
        )

    def choice_for(self, text: str) -> Choice | None:
        """The choice a typed reply selects (see `match_choice`), or None."""
        return match_choice(self.choices, text)


def match_choice(choices: Sequence[Choice], text: str) -> Choice | None:
    """Map a typed answer to one of `choices`, as people type it; None when unsure.

    In order, the first rule that decides wins:

    1. the whole answer is a label or value, ignoring case, punctuation and emoji
       ("where is my order" picks "Where is my order?");
    2. a number or ordinal, with filler words around it ("2", "option 2", "nr. 2",
       "the second one please", "last");
    3. exactly one label or value occurs in the answer as whole words ("hi, where is my
       order please"), or the answer occurs in exactly one label ("track" picks "Track it");
    4. a close spelling of exactly one label ("whre is my ordr"), scored with rapidfuzz at
       `FUZZY_THRESHOLD` or more and clearly ahead of the next option.

    An answer that fits two options equally is not guessed: None, and the question is asked
    again.

    Example:
        >>> options = [Choice("track", "Track it"), Choice("agent", "Talk to a person")]
        >>> match_choice(options, "the first one").value
        'track'
    """
    wanted = _normalise(text)
    if not wanted or not choices:
        return None
    forms = [(c, _normalise(c.label), _normalise(c.value)) for c in choices]
    exact = [c for c, label, value in forms if wanted in (label, value)]
    if exact:
        return exact[0] if len(exact) == 1 else None
    index = _number(wanted, len(choices))
    if index is not None:
        return choices[index] if 0 <= index < len(choices) else None
    padded = f" {wanted} "
    inside = {
        c.value
        for c, label, value in forms
        if any(form and f" {form} " in padded for form in (label, value))
    }
    if len(inside) == 1:
        return next(c for c in choices if c.value in inside)
    if len(inside) > 1:
        return None
    words = set(wanted.split())
    if words <= _FILLER:
        return None
    if any(len(w) >= 3 for w in words - _FILLER):
        around = {
            c.value
            for c, label, value in forms
            if any(f" {wanted} " in f" {form} " for form in (label, value))
        }
        if len(around) == 1:
            return next(c for c in choices if c.value in around)
        if len(around) > 1:
            return None
    return _fuzzy(wanted, forms)


FUZZY_THRESHOLD = 85.0
"""The least rapidfuzz score (0-100) a misspelt answer needs to pick an option."""
_FUZZY_LEAD = 10.0
"""... and how far ahead of the next option it must be."""

_FILLER = frozenset({
    "the", "a", "an", "one", "please", "pls", "plz", "option", "options", "number", "nr",
    "no", "choice", "i", "d", "like", "want", "pick", "take", "choose", "go", "for", "it",
    "is", "that", "this", "ok", "okay", "yes", "thanks", "thank", "you", "just", "my", "de",
    "het", "een", "optie", "keuze", "graag", "nummer",
})  # fmt: skip
_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "sixth": 5,
    "6th": 5,
    "eerste": 0,
    "tweede": 1,
    "derde": 2,
    "vierde": 3,
    "vijfde": 4,
}


def _normalise(text: str) -> str:
    """Lower-case words: punctuation, symbols and emoji become spaces."""
    kept = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text.casefold())
    return " ".join(kept.split())


def _number(wanted: str, count: int) -> int | None:
    """The 0-based index a number or ordinal answer names, with filler words around it."""
    rest = [w for w in wanted.split() if w not in _FILLER]
    if len(rest) != 1:
        return None
    word = rest[0]
    if word.isdigit() and len(word) <= 3:
        return int(word) - 1
    if word in {"last", "laatste"}:
        return count - 1
    return _ORDINALS.get(word)


def _fuzzy(wanted: str, forms: Sequence[tuple[Choice, str, str]]) -> Choice | None:
    from rapidfuzz import fuzz

    if len(wanted) < 4:
        return None
    scored = sorted(
        (
            (max(fuzz.ratio(wanted, label), fuzz.ratio(wanted, value)), c)
            for c, label, value in forms
        ),
        key=lambda item: item[0],
        reverse=True,
    )
    best, choice = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if best >= FUZZY_THRESHOLD and best - runner_up >= _FUZZY_LEAD:
        return choice
    return None
