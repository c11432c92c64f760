"""`Context`: what a flow uses to talk to the customer, durably.

Every answer to `ask` and every result of `step` is journaled. On the customer's next message
the flow function runs again from the top; journaled calls return at once with their recorded
values (and `say` does not repeat), up to the first question not yet answered. So a flow
survives restarts and goes on from whichever channel the customer writes next.

Between awaits a flow must be deterministic: read the clock, draw random numbers and call
other services only inside `ctx.step`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine, Iterator, Mapping, MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from dialogs import _codec
from dialogs.consent import consent_prompt, consent_recorded, with_why
from dialogs.errors import Invalid, MissingAwait, ReplayMismatch
from dialogs.languages import LANGUAGE_KEY, SOURCE_KEY, language_in
from dialogs.media import EXPECT_KEY, answer_as, expect_name
from dialogs.prompts import Choice, Media, Prompt, match_choice

if TYPE_CHECKING:
    from dialogs._replay import Replay
    from dialogs.flows import Flow
    from dialogs.knowledge import KnowledgeBase

__all__ = ["Answer", "Context", "Memory"]

T = TypeVar("T")
P = ParamSpec("P")


class Memory(MutableMapping[str, Any]):
    """The customer's memory: kept across flows and channels, saved with the turn.

    Example:
        >>> ctx.memory["language"] = "nl"
        >>> ctx.memory.get("name")
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.changed = False

    def __getitem__(self, key: str) -> Any:
        return _codec.decode(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        encoded = _codec.encode(value)
        if key in self._data and self._data[key] == encoded:
            return  # replays set the same values again; nothing to save
        self._data[key] = encoded
        self.changed = True

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.changed = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def raw(self) -> dict[str, Any]:
        """The stored (JSON) form."""
        return self._data


class Answer:
    """Everything the customer sent as an answer: text, pressed choice, media, contact."""

    __slots__ = ("choice", "contact_phone", "location", "media", "text")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.text: str | None = data.get("text")
        self.choice: str | None = data.get("choice")
        self.media: tuple[Media, ...] = tuple(Media(*m) for m in data.get("media", ()))
        self.contact_phone: str | None = data.get("contact_phone")
        loc = data.get("location")
        self.location: tuple[float, float] | None = (loc[0], loc[1]) if loc else None

    def __repr__(self) -> str:
        return f"Answer(text={self.text!r}, choice={self.choice!r})"


class Context:
    """One customer's side of a flow. Flows receive it as their only argument."""

    def __init__(self, replay: Replay) -> None:
        self._replay = replay

    @property
    def customer_id(self) -> int:
        """The customer's id, the same on every channel."""
        return self._replay.customer_id

    @property
    def channel(self) -> str:
        """The channel of the message being handled ("telegram", "twilio", "slack", ...)."""
        return self._replay.channel

    @property
    def memory(self) -> Memory:
        """What the customer told the bot before, on any channel (see `remember=`)."""
        return self._replay.memory

    @property
    def language(self) -> str:
        """The customer's language ("en", "nl"): from the platform, from what they write, or
        set by a flow, kept across channels. Setting it makes Baton's own texts follow.

        Example:
            >>> if ctx.language == "nl": await ctx.say("Welkom terug!")
            >>> ctx.language = "nl"
        """
        return language_in(self._replay.memory.raw(), self._replay.app.languages.default)

    @language.setter
    def language(self, code: str) -> None:
        code = str(code).strip().lower()
        if not code:
            raise ValueError("a language is a code such as 'en' or 'nl'")
        self._replay.memory[LANGUAGE_KEY] = code
        self._replay.memory[SOURCE_KEY] = "flow"

    @property
    def trigger(self) -> Answer:
        """The message that started this run of the flow."""
        return Answer(self._replay.trigger)

    @property
    def answer(self) -> Answer | None:
        """The full last answer (media, contact, location) given to `ask`."""
        return self._replay.last_answer

    @overload
    async def ask(
        self,
        prompt: str | Prompt,
        *,
        choices: Sequence[Choice | str] | None = None,
        validate: None = None,
        remember: str | None = None,
        key: str | None = None,
        why: str | None = None,
    ) -> str: ...

    @overload
    async def ask(
        self,
        prompt: str | Prompt,
        *,
        choices: Sequence[Choice | str] | None = None,
        validate: Callable[[str], T],
        remember: str | None = None,
        key: str | None = None,
        why: str | None = None,
    ) -> T: ...

    @overload
    async def ask(
        self,
        prompt: str | Prompt,
        *,
        expect: type[T],
        validate: Callable[[T], T] | None = None,
        remember: str | None = None,
        key: str | None = None,
        why: str | None = None,
    ) -> T: ...

    async def ask(
        self,
        prompt: str | Prompt,
        *,
        choices: Sequence[Choice | str] | None = None,
        validate: Callable[[Any], Any] | None = None,
        remember: str | None = None,
        key: str | None = None,
        expect: type[Any] | None = None,
        why: str | None = None,
    ) -> Any:
        """Ask a question and return the answer.

        The answer is the text (`str`), the chosen `Choice.value` (`str`) with `choices`, or
        what `validate` returns.

        Example:
            >>> name = await ctx.ask("What's your name?", remember="name")
            >>> size = await ctx.ask("Which size?", choices=[Choice("s", "Small"), "Large"])
            >>> day = await ctx.ask("Which day?", validate=date)

        Args:
            prompt: the question.
            choices: options; the answer is the chosen `Choice.value`. Shown as buttons
                or numbered options; a typed number or label also selects.
            validate: turns the text into the value returned, or raises `Invalid(message)`,
                whose message is sent and the question asked again.
            remember: a memory key. If the customer already answered it (in any flow, on any
                channel) the question is skipped; a new answer is remembered.
            key: a stable name for the question, so rewording the prompt in a new deploy does
                not restart flows in progress (defaults to `remember`, then the prompt text).
            expect: `Photo`, `Document`, `Location` or `Contact` (`dialogs.media`): the answer
                is one of those, and `validate` (e.g. `allowed(...)`) receives it.
            why: why the data is asked, shown under the question ("so our courier can
                reach you").
        """
        _check_awaited("ask", prompt, *(choices or ()))
        question = _as_prompt(prompt, choices)
        if expect is not None:
            question = expecting(question, expect_name(expect))
        if why is not None:
            key = key or remember or question.text  # the same key with or without a reason
            question = with_why(question, why)
        return await self._replay.ask(question, validate=validate, remember=remember, key=key)

    async def consent(self, purpose: str, *, why: str, question: str | None = None) -> bool:
        """Ask for consent to a purpose, saying why; True when the customer agrees.

        The answer is recorded (purpose, time, channel and the exact text shown) by the
        privacy feature; "stop <purpose>" withdraws it later. Messages for the purpose
        check the consent in force (`storage.consents.allows`).

        Example:
            >>> if await ctx.consent("marketing", why="to tell you about sales first"):
            ...     await ctx.say("You're on the list.")

        Args:
            purpose: what the consent is for ("marketing", "surveys", your own name).
            why: the reason, shown with the question.
            question: the question; default "May we send you <purpose> messages?".
        """
        prompt = consent_prompt(purpose, why=why, question=question)
        answer = await self._replay.ask(
            prompt, validate=None, remember=None, key=f"consent:{purpose}"
        )
        granted = answer == "yes"
        await self._replay.say(consent_recorded(purpose, granted, prompt.text))
        return bool(granted)

    async def say(self, message: str | Prompt) -> None:
        """Send a message.

        Example:
            >>> await ctx.say("Your parcel is on its way.")
        """
        _check_awaited("say", message)
        await self._replay.say(message if isinstance(message, Prompt) else Prompt(message))

    @overload
    async def step(
        self,
        name: str,
        fn: Callable[P, Coroutine[Any, Any, T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T: ...

    @overload
    async def step(
        self, name: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def step(
        self, name: str, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> Any:
        """Run a side effect once; on replay return its recorded result instead.

        `fn` is called with `args` and `kwargs` (and awaited when it is a coroutine
        function); the step returns what it returns. The result must be JSON-like, a date,
        decimal, dataclass or pydantic model.

        Example:
            >>> order = await ctx.step("lookup order", lookup_order, number)
        """
        given: object = fn  # typed a function, but a missing `await` upstream passes its coroutine
        if inspect.iscoroutine(given):
            given.close()
            raise MissingAwait(
                f"ctx.step({name!r}) got a coroutine, not a function: pass the function and "
                f"its arguments, e.g. ctx.step({name!r}, {given.__qualname__}, ...)"
            )
        return await self._replay.step(name, fn, *args, **kwargs)

    async def run(self, sub: Flow) -> Any:
        """Run another flow inside this one and return what it returns.

        Example:
            >>> address = await ctx.run(ask_address)
        """
        return await self._replay.sub(sub, self)

    async def answer_from(self, kb: KnowledgeBase, question: str | None = None) -> bool:
        """Answer from a knowledge base, with its source, only on strong enough evidence;
        otherwise offer a person or ask to rephrase. Returns whether an answer was sent.

        Example:
            >>> kb = KnowledgeBase.from_folder("help")
            >>> await ctx.answer_from(kb, "can I pay by invoice?")

        Args:
            kb: the knowledge base (`dialogs.knowledge`).
            question: what to answer; the message that started the flow when None.
        """
        from dialogs.knowledge import answer_from

        return await answer_from(self, kb, question)

    async def handoff(self, *, reason: str) -> None:
        """Hand the conversation to a person: it waits in the queue with `reason`.

        Example:
            >>> await ctx.handoff(reason="refund over 100 euro")
        """
        await self._replay.handoff(reason)

    @property
    def args(self) -> dict[str, Any]:
        """The arguments a flow was started with (`engine.start_flow(..., **args)`); {} when
        a message started it.

        Example:
            >>> order = ctx.args.get("order")
        """
        args = self._replay.trigger.get("args")
        return dict(args) if isinstance(args, Mapping) else {}

    @property
    def event(self) -> dict[str, Any] | None:
        """The event that started this flow (an `Event` trigger): {"name", "data", "id"}.

        Example:
            >>> if ctx.event: conversation = ctx.event["data"]["conversation_id"]
        """
        event = self._replay.trigger.get("event")
        return dict(event) if isinstance(event, Mapping) else None

    async def sleep(self, delay: timedelta | float, *, cancel_on_message: bool = False) -> None:
        """Wait, durably: the flow goes on after `delay` (a timedelta or seconds), once, on
        the customer's current channel, even across restarts and deploys.

        While it sleeps the customer can talk about anything else. With
        `cancel_on_message=True` any message of theirs ends this run instead (it never wakes).

        Example:
            >>> await ctx.say("We'll check in two days whether the parcel arrived.")
            >>> await ctx.sleep(timedelta(days=2))
            >>> arrived = await ctx.ask("Did your parcel arrive?", choices=["Yes", "No"])
        """
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        if seconds < 0:
            raise ValueError(f"ctx.sleep needs a delay of 0 or more, not {delay!r}")
        await self._replay.sleep(until=None, delay=seconds, cancel=cancel_on_message)

    async def wait_until(self, when: datetime | float, *, cancel_on_message: bool = False) -> None:
        """Like `sleep`, until a moment: an aware `datetime` or seconds since the epoch.

        Example:
            >>> await ctx.wait_until(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))
        """
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError(
                    "ctx.wait_until needs an aware datetime (with tzinfo), e.g. "
                    "datetime(2027, 1, 5, 9, tzinfo=UTC)"
                )
            at = when.timestamp()
        else:
            at = float(when)
        await self._replay.sleep(until=at, delay=None, cancel=cancel_on_message)

    async def emit(self, name: str, data: Mapping[str, Any] | None = None) -> None:
        """Record an event for app code (listeners, webhooks, flows with an `Event` trigger),
        committed with this turn; a replay does not emit it again.

        Example:
            >>> await ctx.emit("order.refunded", {"order": number})
        """
        payload = dict(data or {})
        json.dumps(payload)  # a clear TypeError now, not when the turn commits
        if not name or len(name) > 64:
            raise ValueError("an event name has 1-64 characters, e.g. 'order.refunded'")
        await self._replay.emit(name, payload)


def _check_awaited(method: str, *given: object) -> None:
    """Raise `MissingAwait` when a coroutine was passed where its result was meant."""
    for value in given:
        if inspect.iscoroutine(value):
            for other in given:
                if other is not value and inspect.iscoroutine(other):
                    other.close()
            raise MissingAwait.given(method, value)


def _as_prompt(prompt: str | Prompt, choices: Sequence[Choice | str] | None) -> Prompt:
    options = tuple(c if isinstance(c, Choice) else Choice(str(c)) for c in choices or ())
    values = [c.value for c in options]
    if len(set(values)) != len(values):
        raise ValueError(f"duplicate choice values in {values}")
    if isinstance(prompt, Prompt):
        return Prompt(prompt.text, options or prompt.choices, prompt.media, prompt.meta)
    return Prompt(str(prompt), options)


def expecting(prompt: Prompt, name: str) -> Prompt:
    """`prompt` asking for a `name` answer ("photo", ...), with the channels' affordances
    (Telegram's share-location and share-contact keyboards) asked for in its meta."""
    meta = {**prompt.meta, EXPECT_KEY: name}
    if name == "location":
        meta.setdefault("request_location", True)
    elif name == "contact":
        meta.setdefault("request_contact", True)
    return Prompt(prompt.text, prompt.choices, prompt.media, meta)


def convert_answer(
    prompt: Prompt,
    answer: Mapping[str, Any],
    validate: Callable[[str], Any] | None,
    texts_pick: str,
    texts_text: str,
) -> Any:
    """The value an answer gives to `ask`, or raise `Invalid` with the re-prompt."""
    expected = prompt.meta.get(EXPECT_KEY)
    if expected:
        value = answer_as(str(expected), answer)
        return value if validate is None else validate(value)
    if prompt.choices:
        chosen = answer.get("choice")
        picked = None
        if chosen is not None:
            picked = next((c for c in prompt.choices if c.value == chosen), None)
        if picked is None and answer.get("text"):
            picked = match_choice(prompt.choices, answer["text"])
        if picked is None:
            raise Invalid(texts_pick)
        return picked.value if validate is None else validate(picked.value)
    text = answer.get("text")
    if text is None:
        text = answer.get("choice") or answer.get("contact_phone")
    if text is None or not str(text).strip():
        raise Invalid(texts_text)
    return str(text) if validate is None else validate(str(text))


def is_async(fn: Callable[..., Any]) -> bool:
    """Whether calling `fn` returns an awaitable."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def mismatch(expected: str, found: str) -> ReplayMismatch:
    """A ReplayMismatch with a message a developer can act on."""
    return ReplayMismatch(f"the flow now does {expected} where its journal recorded {found}")
