"""What starts a flow: a command, a keyword, a pattern or a button.

Example:
    >>> @flow(triggers=[Command("order"), Keyword("where is my order"), Button("order")])
    ... async def order_help(ctx: Context) -> None: ...

Commands start their flow even in the middle of another flow; keywords, patterns and buttons
start one when no flow is waiting for an answer. While one waits, the message is its answer
first; only when the flow refuses it (no option matches, the validator says `Invalid`) does
the bot ask whether to stop that flow and start the one the keyword belongs to (see
`dialogs.runtime`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from dialogs.errors import RegistrationError

__all__ = ["Button", "Command", "Event", "Keyword", "Message", "Regex", "Trigger"]


@dataclass(frozen=True, slots=True)
class Message:
    """What a trigger looks at."""

    text: str | None
    choice: str | None = None
    normalised: str = field(default="", compare=False)
    """The text lower-cased, punctuation removed, spaces collapsed (computed once)."""

    def __post_init__(self) -> None:
        if self.text and not self.normalised:
            object.__setattr__(self, "normalised", _normalise(self.text))


class Trigger(Protocol):
    """Anything with `matches(message) -> bool`; `interrupts` makes it win over a flow."""

    @property
    def interrupts(self) -> bool:
        """True when the trigger starts its flow even while another flow waits (commands)."""
        ...

    def matches(self, message: Message) -> bool:
        """Whether `message` starts this trigger's flow."""
        ...


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command: `Command("order")` matches "/order", "/order 123", "/order@my_bot"."""

    name: str
    interrupts: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", self.name.lstrip("/")):
            raise RegistrationError(
                f"Command({self.name!r}): use letters, digits and _ only, e.g. Command('order')"
            )
        object.__setattr__(self, "name", self.name.lstrip("/").lower())

    def matches(self, message: Message) -> bool:
        """Whether the text is this command."""
        text = (message.text or "").strip()
        if not text.startswith("/"):
            return False
        word = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
        return word.split("@", 1)[0].lower() == self.name


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


@dataclass(frozen=True, slots=True)
class Keyword:
    """Matches when any of the phrases occurs as whole words, in any case.

    `Keyword("where is my order", "track")` matches "Hi, where is my order?".
    """

    phrases: tuple[str, ...]
    interrupts: bool = False
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def __init__(self, *phrases: str) -> None:
        cleaned = tuple(_normalise(p) for p in phrases)
        if not cleaned or not all(cleaned):
            raise RegistrationError("Keyword needs at least one non-empty phrase")
        object.__setattr__(self, "phrases", cleaned)
        object.__setattr__(self, "interrupts", False)
        object.__setattr__(
            self, "_patterns", tuple(re.compile(rf"(?:^| ){re.escape(p)}(?: |$)") for p in cleaned)
        )

    def matches(self, message: Message) -> bool:
        """Whether a phrase occurs in the text."""
        if not message.text:
            return False
        text = message.normalised or _normalise(message.text)
        return any(p.search(text) for p in self._patterns)


@dataclass(frozen=True, slots=True)
class Regex:
    """Matches when the pattern is found in the text (`re.search`, case-insensitive)."""

    pattern: str
    interrupts: bool = False
    _compiled: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_compiled", re.compile(self.pattern, re.IGNORECASE))
        except re.error as exc:
            raise RegistrationError(f"Regex({self.pattern!r}) does not compile: {exc}") from None

    def matches(self, message: Message) -> bool:
        """Whether the pattern is found."""
        assert self._compiled is not None
        return bool(message.text and self._compiled.search(message.text))


@dataclass(frozen=True, slots=True)
class Button:
    """Matches a pressed button (or picked choice) with this value."""

    value: str
    interrupts: bool = False

    def matches(self, message: Message) -> bool:
        """Whether this button was pressed."""
        return message.choice == self.value


@dataclass(frozen=True, slots=True)
class Event:
    """Starts its flow when an event happens to the customer (see `bot.followup`), in their
    line like a message: `Event("conversation.resolved")`, or the last part alone,
    `Event("resolved")`. The flow reads it from `ctx.event`; no message ever matches.

    Example:
        >>> @flow(triggers=[Event("resolved")])
        ... async def thanks(ctx: Context) -> None:
        ...     await ctx.say("Glad we could help!")
    """

    name: str
    interrupts: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", self.name):
            raise RegistrationError(
                f"Event({self.name!r}): use an event name such as 'conversation.resolved' "
                "or 'resolved' (lower case, dots between parts)"
            )

    def matches(self, message: Message) -> bool:
        """Messages never start an event's flow."""
        return False

    def accepts(self, name: str) -> bool:
        """Whether the event called `name` starts this trigger's flow."""
        return name == self.name or name.endswith("." + self.name)
