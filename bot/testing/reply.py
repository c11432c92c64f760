"""What the customer sees, as the test kit reports it: a `Reply` of the bot, and the stored
`Conversation`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.emulators import Button, Call

__all__ = ["Conversation", "Reply", "shorten", "squash"]

_SHOWN = 300  # characters of a text shown in a failure message


@dataclass(frozen=True, slots=True)
class Conversation:
    """The customer's conversation as stored: who holds it, why, and what is remembered."""

    status: str
    """"bot", "waiting" (for a person), "agent" or "resolved"."""
    handoff_reason: str | None
    """The reason given to `ctx.handoff`, or the interruption's, while handed off."""
    memory: Mapping[str, Any]
    """What flows remembered about the customer (`remember=`, `ctx.memory`)."""
    customer_id: int


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply of the bot as the customer sees it; several API calls when it was split.

    Example:
        >>> reply = await chat.expect("What's your name?")
        >>> reply.calls[0].params["chat_id"]
        4242
    """

    text: str
    """The main text: on SMS without the numbered options and the "(1/2)" part markers, on
    Slack unescaped."""
    full_text: str
    """Everything shown, numbered options included."""
    choices: tuple[str, ...]
    """The labels of the choices offered, in order."""
    calls: tuple[Call, ...] = field(repr=False)
    """The emulator's record of each API call that made up the reply."""
    buttons: tuple[Button, ...] = field(default=(), repr=False)
    split: bool = field(default=False, repr=False)
    """Whether the channel cut the text into pieces (messages, parts or Slack sections)."""

    def matches(self, expected: str | re.Pattern[str]) -> bool:
        """Whether `expected` is this reply's text, with or without the listed options.

        A pattern must match the whole text. A reply split over several messages is compared
        with whitespace collapsed, because the split ate the whitespace at each cut.
        """
        if isinstance(expected, re.Pattern):
            return any(expected.fullmatch(text) for text in (self.text, self.full_text))
        if expected in (self.text, self.full_text):
            return True
        return self.split and squash(expected) in (
            squash(self.text),
            squash(self.full_text),
        )


def shorten(text: str) -> str:
    """`text` as shown in a failure message: its repr, cut in the middle when long."""
    if len(text) <= _SHOWN:
        return repr(text)
    half = _SHOWN // 2
    return f"{text[:half]!r} ... ({len(text)} characters) ... {text[-half:]!r}"


def squash(text: str) -> str:
    """`text` with its whitespace collapsed, for comparing texts split at whitespace."""
    return " ".join(text.split())
