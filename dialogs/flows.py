"""Registering flows and putting them together in an `App`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from dialogs.errors import RegistrationError
from dialogs.interruptions import Interruptions
from dialogs.languages import Languages
from dialogs.triggers import Trigger

if TYPE_CHECKING:
    from dialogs.context import Context

__all__ = ["App", "Flow", "Texts", "flow"]

FlowFn = Callable[["Context"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Flow:
    """A registered flow: an async function of one `Context`, with its triggers."""

    fn: FlowFn
    name: str
    triggers: tuple[Trigger, ...] = ()
    description: str = ""
    title: str = ""
    """What people call it, e.g. "your order" ("Do you want to stop your order and start
    ..."); defaults to the name with spaces."""

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", " "))

    async def __call__(self, ctx: Context) -> Any:
        """Run the flow function (as `ctx.run` does for a sub-flow)."""
        return await self.fn(ctx)


@overload
def flow(fn: FlowFn, /) -> Flow: ...


@overload
def flow(
    *,
    triggers: Sequence[Trigger] = (),
    name: str | None = None,
    description: str = "",
    title: str = "",
) -> Callable[[FlowFn], Flow]: ...


def flow(
    fn: FlowFn | None = None,
    /,
    *,
    triggers: Sequence[Trigger] = (),
    name: str | None = None,
    description: str = "",
    title: str = "",
) -> Flow | Callable[[FlowFn], Flow]:
    """Register an async function as a flow. `description` is listed by "help"; `title` is
    how the bot names it to the customer ("Do you want to stop {title} ...?").

    Example:
        >>> @flow(triggers=[Command("order"), Keyword("where is my order")])
        ... async def order_help(ctx: Context) -> None:
        ...     name = await ctx.ask("What's your name?", remember="name")
        ...     await ctx.say(f"Thanks, {name}!")
    """

    def register(f: FlowFn) -> Flow:
        import inspect

        if not inspect.iscoroutinefunction(f):
            raise RegistrationError(
                f"flow {getattr(f, '__name__', f)!r} must be an `async def` function of one "
                "Context"
            )
        for trigger in triggers:
            if not callable(getattr(trigger, "matches", None)):
                raise RegistrationError(f"{trigger!r} is not a trigger (it has no .matches)")
        return Flow(f, name or f.__qualname__, tuple(triggers), description, title)

    if fn is not None:
        return register(fn)
    return register


@dataclass(frozen=True, slots=True)
class Texts:
    """What the bot says on its own. Override any of them in `App(texts=Texts(...))`."""

    help: str = (
        "I can help with the things below. You can also say 'never mind' to stop what "
        "we're doing, or 'agent' to talk to a person."
    )
    cancelled: str = "OK, I've stopped that. What else can I do for you?"
    nothing_to_cancel: str = "There's nothing to cancel. What can I do for you?"
    human_waiting: str = (
        "I've asked a person from our team to help you. They will reply "
        "here as soon as they can; your messages so far are saved for them."
    )
    still_waiting: str = (
        "You're still waiting for a person from our team; they will reply "
        "here. Say 'never mind' if you no longer need them."
    )
    no_longer_waiting: str = "OK, you're no longer waiting for a person."
    apology: str = (
        "Sorry, something went wrong on our side. Please try again, or say "
        "'agent' to talk to a person."
    )
    restarted: str = (
        "We've updated this conversation since your last message, so let's start this part again."
    )
    not_understood: str = "Sorry, I didn't understand that. Say 'help' to see what I can do."
    pick_a_choice: str = "Please pick one of the options."
    answer_in_text: str = "Please answer with a text message."
    not_understood_handoff: str = (
        "Sorry, I'm not getting this right. I've asked a person from our team to help you; "
        "they will reply here as soon as they can."
    )
    back_to_bot: str = "OK, you're back with the bot. What can I do for you?"
    queue_position: str = "You're number {position} in the queue. The expected wait is {wait}."
    queue_next: str = "You're next in the queue. The expected wait is {wait}."
    queue_closed: str = (
        "Our team is away right now. A person will answer from {opens}; "
        "you're number {position} in the queue."
    )
    agent_joined: str = "{agent} from our team is here to help you."
    resolved: str = (
        "This conversation is marked as resolved. If you need anything else, just write here."
    )
    handed_back: str = "You're back with the bot now."
    switch_flow: str = "Do you want to stop {current} and start {other}?"
    """Asked when a message that starts another flow comes while a question waits and is
    no answer to it (see `dialogs.runtime`)."""
    switch_yes: str = "Yes"
    switch_no: str = "No"


@dataclass(slots=True)
class App:
    """A bot: its flows, the flow that greets a customer, and its own texts.

    Example:
        >>> app = App(flows=[order_help, faq], start=greeting)

    Args:
        flows: flows reachable by their triggers.
        start: the flow for a message no trigger matches while no flow is active.
        texts: what the bot says on its own (help, cancel, apology, ...).
        interruptions: the phrases for help, cancel and "talk to a human".
        question_expiry_hours: an open question expires this long after it was asked: the
            next message starts fresh. None takes the engine's setting
            (`BATON_QUESTION_EXPIRY_HOURS`, 24 by default); 0 never expires.
        languages: the languages the bot speaks (catalogs, `Texts` per language, see
            `dialogs.languages`); English and Dutch are built in.
    """

    flows: Sequence[Flow] = ()
    start: Flow | None = None
    texts: Texts = field(default_factory=Texts)
    interruptions: Interruptions = field(default_factory=Interruptions)
    name: str = "Baton"
    question_expiry_hours: float | None = None
    languages: Languages = field(default_factory=Languages)
    _by_name: dict[str, Flow] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for f in [*self.flows, *([self.start] if self.start else [])]:
            if not isinstance(f, Flow):
                raise RegistrationError(f"{f!r} is not a flow: decorate it with @flow")
            known = self._by_name.get(f.name)
            if known is not None and known is not f:
                raise RegistrationError(f"two different flows are named {f.name!r}")
            self._by_name[f.name] = f

    def get(self, name: str) -> Flow | None:
        """The flow registered under `name`."""
        return self._by_name.get(name)

    def add(self, f: Flow) -> None:
        """Register a flow that is reached only by `ctx.run` (or add one later)."""
        self._by_name.setdefault(f.name, f)
