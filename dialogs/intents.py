"""Intents: start a flow from what the customer means, not only the exact words.

Example:
    >>> refund_intent = Intent("refund", examples=["I want my money back", "refund please",
    ...                                            "ik wil mijn geld terug"])
    >>> @flow(triggers=[refund_intent])
    ... async def refund(ctx: Context) -> None: ...

An `Intent` is a trigger like `Keyword`, matched offline (see `dialogs.matching`): "I'd like a
reimbursement" starts the refund flow when its confidence reaches the intent's `threshold`
(`DEFAULT_THRESHOLD` unless given). With the understanding feature installed (`baton run`
and the test kit install it), all the intents of an `App` compete: a message starts the flow
of the most confident one, and a near miss (between `DEFAULT_NEAR` and the threshold) is
answered with "Did you mean ...?"; pressing it sends `Intent.choice`, which the intent
matches too.

An app can bring its own classifier (a model, a service, an LLM, see `Classifier`): the
feature asks it once per message, before the flows run, and the intents follow its answer.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dialogs.errors import RegistrationError
from dialogs.matching import Guess, Matcher, words
from dialogs.triggers import Message

if TYPE_CHECKING:
    from dialogs.flows import App

__all__ = [
    "DEFAULT_NEAR",
    "DEFAULT_THRESHOLD",
    "Classifier",
    "Guess",
    "Intent",
    "IntentSet",
    "MatcherClassifier",
    "decided",
    "intents_of",
]

DEFAULT_THRESHOLD = 0.55
"""The confidence from which an intent starts its flow (measured: tests/benchmarks/
understanding_eval.py)."""
DEFAULT_NEAR = 0.45
"""The confidence from which a message that starts nothing gets a "Did you mean ...?"."""
CHOICE_PREFIX = "baton:intent:"
"""Button values of "Did you mean ...?" (`Intent.choice`)."""

_decided: contextvars.ContextVar[tuple[str, tuple[Guess, ...]] | None] = contextvars.ContextVar(
    "baton_intent_decided", default=None
)


class Classifier(Protocol):
    """Tells which intents a message expresses, with a confidence (0..1) each.

    Example:
        >>> class MyModel:
        ...     async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        ...         label, p = await my_service.predict(text)
        ...         return [Guess(label, p)]
    """

    async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        """The likely labels among `labels` for `text`, most confident first."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class Intent:
    """A trigger that matches messages meaning the same as its examples.

    Example:
        >>> Intent("refund", examples=["I want my money back", "refund please"])

    Args:
        name: the intent's name (also the label a `Classifier` answers with).
        examples: ways customers say it; 10 to 20 varied ones, in each language served.
        threshold: the confidence from which it matches (`DEFAULT_THRESHOLD`).
        label: how "Did you mean ...?" names it ("Get a refund"); defaults to the name.
    """

    name: str
    examples: tuple[str, ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    label: str = ""
    interrupts: bool = False
    _own: list[Matcher] = field(default_factory=list, repr=False)
    _shared: list[IntentSet] = field(default_factory=list, repr=False)

    def __init__(
        self,
        name: str,
        *,
        examples: Iterable[str],
        threshold: float = DEFAULT_THRESHOLD,
        label: str = "",
    ) -> None:
        cleaned = tuple(e for e in examples if words(e))
        if not name or not cleaned:
            raise RegistrationError(
                f"Intent({name!r}) needs a name and examples, e.g. "
                "Intent('refund', examples=['I want my money back', 'refund please'])"
            )
        if not 0 < threshold <= 1:
            raise RegistrationError(f"Intent({name!r}): threshold must be in (0, 1]")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "examples", cleaned)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "label", label or name.replace("_", " "))
        object.__setattr__(self, "interrupts", False)
        object.__setattr__(self, "_own", [])
        object.__setattr__(self, "_shared", [])

    @property
    def choice(self) -> str:
        """The button value that picks this intent ("Did you mean ...?")."""
        return CHOICE_PREFIX + self.name

    def guess(self, text: str) -> Guess | None:
        """The best guess for `text`: this intent's or a competing one's."""
        decided = _decided.get()
        if decided is not None and decided[0] == text:
            return decided[1][0] if decided[1] else None
        if self._shared:
            return self._shared[0].best(text)
        if not self._own:
            self._own.append(Matcher({self.name: self.examples}))
        return self._own[0].best(text)

    def matches(self, message: Message) -> bool:
        """Whether the message means this intent (or picked it from "Did you mean ...?")."""
        if message.choice is not None:
            return message.choice == self.choice
        if not message.text:
            return False
        found = self.guess(message.text)
        return (
            found is not None and found.label == self.name and found.confidence >= (self.threshold)
        )


class IntentSet:
    """The intents of an `App`, matched together: the most confident one wins.

    Example:
        >>> intents = IntentSet.of(app)   # the understanding feature does this
        >>> intents.rank("I'd like a reimbursement")
    """

    def __init__(self, intents: Sequence[Intent]) -> None:
        self.intents: dict[str, Intent] = {}
        for intent in intents:
            known = self.intents.get(intent.name)
            if known is not None and known is not intent:
                raise RegistrationError(f"two different intents are named {intent.name!r}")
            self.intents[intent.name] = intent
        self.matcher = Matcher({i.name: i.examples for i in self.intents.values()})

    @classmethod
    def of(cls, app: App, *, bind: bool = True) -> IntentSet:
        """The intents among the triggers of `app`'s flows; `bind` makes them compete."""
        found = intents_of(app)
        made = cls(found)
        if bind:
            for intent in found:
                intent._shared[:] = [made]
        return made

    def rank(self, text: str, limit: int = 3) -> list[Guess]:
        """The most likely intents for `text`, most confident first."""
        return self.matcher.rank(text, limit)

    def best(self, text: str) -> Guess | None:
        """The most likely intent for `text`."""
        return self.matcher.best(text)


def intents_of(app: App) -> list[Intent]:
    """Every `Intent` among the triggers of `app`'s flows and start flow, in order."""
    found: list[Intent] = []
    flows = [*app.flows, *([app.start] if app.start is not None else [])]
    for f in flows:
        found.extend(t for t in f.triggers if isinstance(t, Intent) and t not in found)
    return found


class MatcherClassifier:
    """The built-in, offline `Classifier`: the `Matcher` over the intents' examples."""

    def __init__(self, intents: IntentSet) -> None:
        self.intents = intents

    async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        """The best intents for `text` among `labels`."""
        allowed = set(labels)
        return [g for g in self.intents.rank(text, 5) if g.label in allowed]


def decided(
    text: str, guesses: Sequence[Guess]
) -> contextvars.Token[tuple[str, tuple[Guess, ...]] | None]:
    """Make the intents follow `guesses` for `text` in this task (a `Classifier`'s answer,
    set by the understanding feature before the flows run). Returns the token to reset."""
    ordered = tuple(sorted(guesses, key=lambda g: -g.confidence))
    return _decided.set((text, ordered))


def reset_decided(token: contextvars.Token[tuple[str, tuple[Guess, ...]] | None]) -> None:
    """Undo `decided`."""
    _decided.reset(token)


def near_miss(intents: IntentSet, text: str, near: float = DEFAULT_NEAR) -> list[Intent]:
    """Intents `text` nearly means (confidence from `near` up to their threshold)."""
    out: list[Intent] = []
    for guess in intents.rank(text, 2):
        intent = intents.intents.get(guess.label)
        if intent is not None and near <= guess.confidence < intent.threshold:
            out.append(intent)
    return out
