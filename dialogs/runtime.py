"""The flow runtime: one turn of one customer, from their state and message to an outcome.

This is the seam between the engine and the flows. The engine loads a customer's
`CustomerState`, calls `run_turn` with the message, commits the returned `Outcome` (journal
rows, runs started and ended, memory, status, replies) in one transaction, and keeps the new
state for the next turn. Nothing here touches a database or a channel, so a turn can be run
and checked in memory.

Example:
    >>> outcome = await run_turn(app, state, {"text": "where is my order"}, channel="telegram")
    >>> [reply.text for reply in outcome.replies]
    ["Hi! What's your name?"]

While a person holds the conversation the bot stays quiet (only "cancel" takes it back).
Otherwise a turn first looks for an interruption (help, cancel, a person), then a command
that starts a flow, then the active flow, replayed from its journal (see `Context`), then the
other triggers, and last the `App`'s start flow.

An open question does not wait forever. It expires `App.question_expiry_hours` after it was
asked (the engine's `BATON_QUESTION_EXPIRY_HOURS`, 24 by default): the next message ends the
old run as "expired" and is handled as a new one (triggers, then the start flow). The time
is the engine's (`run_turn(now=...)`), compared with the time journaled with the question,
so a replay decides nothing from the clock. A conversation an agent resolved ends its open
question too (the run ends "resolved"): after "thanks!" the customer starts fresh, not with
"Please pick one of the options".

Another flow's trigger while a question waits. A command ("/order") is explicit: it starts
its flow at once and the active run ends "replaced". A keyword, pattern or button of
another flow is not: "my order is late" may well be the answer to "What went wrong?". So
the active flow gets the message first; only when it refuses it as an answer (no option
matches, or the validator raises `Invalid`), the bot asks "Do you want to stop <current>
and start <other>?" with Yes / No instead of "Please pick one of the options". Yes starts
the other flow with that message as its trigger (the old run ends "replaced"); No asks the
open question again; anything else is handled as usual. The offer is kept in the
customer's memory until their next message, so it survives restarts like the rest.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs._replay import Replay, Suspend
from dialogs.context import Context, Memory
from dialogs.errors import ReplayMismatch
from dialogs.flows import App, Flow
from dialogs.prompts import Choice, Prompt, match_choice
from dialogs.triggers import Message
from storage.records import CustomerState, JournalRow
from storage.vocabulary import ConversationStatus

log = logging.getLogger("baton.flows")

__all__ = ["HUMAN_CHOICE", "Outcome", "Timer", "pending_prompt", "run_turn"]

HUMAN_CHOICE = "baton:human"
"""A button value that asks for a person wherever it is pressed, like saying "agent".

Example:
    >>> await ctx.ask("Did that help?", choices=["Yes", Choice(HUMAN_CHOICE, "A person")])
"""
_MISUNDERSTOOD_KEY = "_baton_misunderstood"
"""Memory key counting messages in a row the bot could not use (hidden from people)."""
_MISUNDERSTOOD_LIMIT = 2
_SWITCH_KEY = "_baton_switch"
"""Memory key of a pending offer to switch flows: the run, the other flow, its trigger."""
SLEEPERS_KEY = "_baton_sleepers"
"""Memory key of the sleeping runs a customer message cancels (`cancel_on_message=True`)."""
_SWITCH_YES = "baton:switch"
_SWITCH_NO = "baton:stay"
DEFAULT_QUESTION_EXPIRY_HOURS = 24.0
"""How long an open question waits when neither the App nor the engine says otherwise."""


@dataclass(slots=True)
class Outcome:
    """What a turn did; the engine commits it in one transaction.

    `run_turn` does not change the `CustomerState` it is given: the customer's next state is
    `active_run_id`, `active_flow`, `active_journal`, and `memory` and `status` where they
    are not None.

    Example:
        >>> outcome = await run_turn(app, state, {"text": "agent"}, channel="slack")
        >>> outcome.status, outcome.handoff_trigger
        ('waiting', 'customer')
    """

    replies: list[Prompt] = field(default_factory=list)
    """What to send the customer, in order."""
    journal: list[tuple[str, JournalRow]] = field(default_factory=list)
    """New journal rows, each with the id of its run."""
    new_runs: list[tuple[str, str]] = field(default_factory=list)
    """Runs started: (run id, flow name)."""
    ended_runs: list[tuple[str, str]] = field(default_factory=list)
    """Runs ended: (run id, "done", "cancelled", "replaced", "restarted", "failed", "expired"
    (its question was open too long) or "resolved" (an agent resolved the conversation))."""
    active_run_id: str | None = None
    """The run waiting for the customer's next message, if any."""
    active_flow: str | None = None
    """The name of the active run's flow."""
    active_journal: list[JournalRow] = field(default_factory=list)
    """The active run's whole journal, for the next turn's replay."""
    memory: dict[str, Any] | None = None
    """The customer's memory (stored form) when the turn changed it, else None."""
    status: str | None = None
    """The conversation's new status ("bot", "waiting") when the turn changed it, else None."""
    handoff_reason: str | None = None
    """Why the conversation started waiting for a person, for the agent's queue."""
    handoff_trigger: str | None = None
    """Who started the wait: "customer", "flow" or "misunderstood"."""
    error: BaseException | None = None
    """The exception a flow raised (its run ended "failed" and the customer got an apology)."""
    timers: list[Timer] = field(default_factory=list)
    """Runs that went to sleep (`ctx.sleep`): each is woken once, at its time."""
    cancelled_timers: list[str] = field(default_factory=list)
    """Sleeping runs the customer's message ended (`cancel_on_message=True`)."""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Events the flows emitted (`ctx.emit`), recorded with the turn."""


@dataclass(frozen=True, slots=True)
class Timer:
    """A run asleep until `until` (seconds since the epoch); `seq` is its `sleep` entry."""

    run_id: str
    flow: str
    seq: int
    until: float
    cancel_on_message: bool


def pending_prompt(journal: list[JournalRow]) -> Prompt | None:
    """The question a run waits on, if its last entry is an unanswered `ask`.

    Example:
        >>> question = pending_prompt(state.journal)  # None when no question is open
    """
    if journal and journal[-1].kind == "ask":
        return Prompt.from_json(journal[-1].value["prompt"])
    return None


async def run_turn(
    app: App,
    state: CustomerState,
    incoming: Mapping[str, Any],
    *,
    channel: str,
    new_run_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    now: float | None = None,
    question_expiry_hours: float | None = None,
) -> Outcome:
    """Handle one customer message: interruptions, triggers, then the active flow.

    Example:
        >>> outcome = await run_turn(app, state, {"text": "Ada"}, channel="twilio")

    Args:
        app: the bot's flows and texts.
        state: the customer as the engine last committed it; not changed.
        incoming: the message as a flow sees it (`Answer`): "text", "choice", "media",
            "contact_phone", "location".
        channel: the channel it came from (`Context.channel`).
        new_run_id: makes the id of each run the turn starts.
        now: the time of the message, seconds since the epoch. Journaled with each question
            asked, and compared with it to expire an open question; None: no expiry.
        question_expiry_hours: the engine's setting, used when the App sets none.
    """
    expiry = app.question_expiry_hours
    if expiry is None:
        expiry = (
            question_expiry_hours
            if question_expiry_hours is not None
            else DEFAULT_QUESTION_EXPIRY_HOURS
        )
    turn = _Turn(app, state, incoming, channel, new_run_id, now=now, expiry_hours=expiry)
    turn.cancel_sleepers()
    await turn.handle()
    turn.count_misunderstood()
    out = turn.out
    if turn.memory.changed:
        out.memory = turn.memory.raw()
    return out


class _Turn:
    def __init__(
        self,
        app: App,
        state: CustomerState,
        incoming: Mapping[str, Any],
        channel: str,
        new_run_id: Callable[[], str],
        *,
        now: float | None = None,
        expiry_hours: float = DEFAULT_QUESTION_EXPIRY_HOURS,
    ) -> None:
        self.app = app
        self.now = now
        self.expiry_hours = expiry_hours
        self.state = state
        self.incoming = incoming
        self.channel = channel
        self.new_run_id = new_run_id
        self.memory = Memory(dict(state.memory))
        self.out = Outcome(
            active_run_id=state.active_run_id,
            active_flow=state.active_flow,
            active_journal=list(state.journal),
        )
        self.status = state.status
        self.misunderstood: bool | None = None
        """True when the bot could not use the message, False when it could, None if n/a."""

    def say(self, text: str) -> None:
        self.out.replies.append(Prompt(text))

    def set_status(
        self, status: str, reason: str | None = None, trigger: str | None = None
    ) -> None:
        status = str(status)  # a plain str: JSON payloads that carry it stay on orjson
        self.status = status
        self.out.status = status
        self.out.handoff_reason = reason
        self.out.handoff_trigger = trigger

    def count_misunderstood(self) -> None:
        """Hand off when the bot failed to understand twice in a row."""
        if self.misunderstood is None:
            return
        count = self.memory.raw().get(_MISUNDERSTOOD_KEY, 0)
        if not self.misunderstood or self.status != ConversationStatus.BOT:
            if count:
                del self.memory[_MISUNDERSTOOD_KEY]
            return
        count += 1
        if count < _MISUNDERSTOOD_LIMIT:
            self.memory[_MISUNDERSTOOD_KEY] = count
            return
        if _MISUNDERSTOOD_KEY in self.memory:
            del self.memory[_MISUNDERSTOOD_KEY]
        self.set_status(
            ConversationStatus.WAITING,
            "the bot did not understand the customer twice in a row",
            "misunderstood",
        )
        self.say(self.app.texts.not_understood_handoff)

    def cancel_sleepers(self) -> None:
        """A customer message ends the sleeping runs that asked for it (`ctx.sleep`)."""
        sleepers = self.memory.raw().get(SLEEPERS_KEY)
        if sleepers is None:
            return
        del self.memory[SLEEPERS_KEY]
        for run_id in sleepers if isinstance(sleepers, dict) else ():
            self.out.ended_runs.append((run_id, "cancelled"))
            self.out.cancelled_timers.append(run_id)

    def prepare(self, run_id: str, replay: Replay) -> None:
        """Adjust a replay before the flow runs (a wake-up turn sets `wake_seq`)."""

    def park(self, run_id: str, f: Flow, replay: Replay) -> None:
        """The run sleeps (`ctx.sleep`): it leaves the active slot until its wake-up."""
        assert replay.sleeping is not None
        self.record(run_id, replay)
        if self.out.active_run_id == run_id:
            self.out.active_run_id = None
            self.out.active_flow = None
            self.out.active_journal = []
        self.out.ended_runs.append((run_id, "sleeping"))
        seq, until, cancel = replay.sleeping
        self.out.timers.append(Timer(run_id, f.name, seq, until, cancel))
        if cancel:
            sleepers = dict(self.memory.raw().get(SLEEPERS_KEY) or {})
            sleepers[run_id] = True
            self.memory[SLEEPERS_KEY] = sleepers

    def end_active(self, status: str) -> None:
        if self.out.active_run_id is not None:
            self.out.ended_runs.append((self.out.active_run_id, status))
        self.out.active_run_id = None
        self.out.active_flow = None
        self.out.active_journal = []

    async def handle(self) -> None:
        app, incoming = self.app, self.incoming
        text, choice = incoming.get("text"), incoming.get("choice")
        if choice == HUMAN_CHOICE or self.typed_human(text, choice):
            kind: str | None = "human"
        else:
            kind = app.interruptions.classify(text) if choice is None else None
        message = Message(text, choice)
        if self.status == ConversationStatus.AGENT:
            # A person holds the conversation: the bot stays quiet and the message goes to
            # them. Only "cancel" / "bot" take the customer back to the bot.
            if kind == "cancel":
                self.end_active("cancelled")
                self.set_status(ConversationStatus.BOT)
                self.say(app.texts.back_to_bot)
            return
        offer = self.take_offer()
        if self.status == ConversationStatus.RESOLVED:
            self.set_status(ConversationStatus.BOT)
            # The agent closed the matter: what the bot asked before it is not open anymore.
            self.end_active("resolved")
        self.expire()
        self.misunderstood = False
        if kind == "help":
            self.say(self.help_text())
            pending = pending_prompt(self.out.active_journal)
            if pending is not None:
                self.out.replies.append(pending)
            return
        if kind == "cancel":
            if self.out.active_run_id is not None:
                self.end_active("cancelled")
                if self.status == ConversationStatus.WAITING:
                    self.set_status(ConversationStatus.BOT)
                self.say(app.texts.cancelled)
            elif self.status == ConversationStatus.WAITING:
                self.set_status(ConversationStatus.BOT)
                self.say(app.texts.no_longer_waiting)
            else:
                self.say(app.texts.nothing_to_cancel)
            return
        if kind == "human":
            if self.status == ConversationStatus.WAITING:
                self.say(app.texts.still_waiting)
            else:
                self.set_status(
                    ConversationStatus.WAITING, "customer asked for a person", "customer"
                )
                self.say(app.texts.human_waiting)
            return
        for f in app.flows:
            if any(t.interrupts and t.matches(message) for t in f.triggers):
                self.end_active("replaced")
                await self.start(f)
                return
        if offer is not None and await self.answer_offer(offer):
            return
        if self.out.active_run_id is not None:
            active = app.get(self.out.active_flow or "")
            if active is not None:
                run_id = self.out.active_run_id
                other = self.other_flow(message, active)
                mark = len(self.out.replies)
                replay = await self.execute(
                    active, run_id, list(self.out.active_journal), incoming
                )
                if (
                    other is not None
                    and replay is not None
                    and replay.rejected
                    and self.out.active_run_id == run_id
                ):
                    del self.out.replies[mark:]
                    self.offer(run_id, other)
                return
            log.warning(
                "customer %s: flow %r is no longer registered; its run is ended",
                self.state.customer_id,
                self.out.active_flow,
            )
            self.end_active("restarted")
            self.say(app.texts.restarted)
        for f in app.flows:
            if any(not t.interrupts and t.matches(message) for t in f.triggers):
                await self.start(f)
                return
        if self.status == ConversationStatus.WAITING:
            self.say(app.texts.still_waiting)
        elif app.start is not None:
            await self.start(app.start)
        else:
            self.misunderstood = True
            self.say(app.texts.not_understood)

    def expire(self) -> None:
        """End the active run when its open question was asked too long ago."""
        if self.now is None or not self.expiry_hours or self.out.active_run_id is None:
            return
        journal = self.out.active_journal
        last = journal[-1] if journal else None
        if last is None or last.kind != "ask" or not isinstance(last.value, dict):
            return
        asked = last.value.get("at")
        if isinstance(asked, int | float) and self.now - asked >= self.expiry_hours * 3600:
            self.end_active("expired")

    def take_offer(self) -> dict[str, Any] | None:
        """The offer to switch flows made last turn, if any; it lasts one message."""
        if _SWITCH_KEY not in self.memory:
            return None
        offer = self.memory[_SWITCH_KEY]
        del self.memory[_SWITCH_KEY]
        return offer if isinstance(offer, dict) else None

    def other_flow(self, message: Message, active: Flow) -> Flow | None:
        """Another flow whose keyword, pattern or button the message matches."""
        for f in self.app.flows:
            if f is not active and any(
                not t.interrupts and t.matches(message) for t in f.triggers
            ):
                return f
        return None

    def offer(self, run_id: str, other: Flow) -> None:
        """Ask whether to stop the active flow and start `other`, instead of a re-prompt."""
        texts = self.app.texts
        current = self.current_title()
        self.memory[_SWITCH_KEY] = {
            "run": run_id,
            "flow": other.name,
            "trigger": dict(self.incoming),
        }
        self.misunderstood = False
        self.out.replies.append(
            Prompt(
                texts.switch_flow.format(current=current, other=other.title),
                (Choice(_SWITCH_YES, texts.switch_yes), Choice(_SWITCH_NO, texts.switch_no)),
            )
        )

    def current_title(self) -> str:
        """The title of the flow the open question belongs to (the innermost sub-flow)."""
        name = self.out.active_flow or ""
        for row in self.out.active_journal:
            if row.kind == "sub":
                name = row.key
        found = self.app.get(name) or self.app.get(self.out.active_flow or "")
        return found.title if found is not None else name.replace("_", " ")

    async def answer_offer(self, offer: Mapping[str, Any]) -> bool:
        """Handle the answer to an offer to switch flows; False when it is no answer to it."""
        if offer.get("run") != self.out.active_run_id:
            return False
        texts = self.app.texts
        options = (Choice(_SWITCH_YES, texts.switch_yes), Choice(_SWITCH_NO, texts.switch_no))
        chosen = self.incoming.get("choice")
        text = self.incoming.get("text")
        picked = next((c for c in options if c.value == chosen), None)
        if picked is None and chosen is None and text:
            picked = match_choice(options, text)
        if picked is None:
            return False
        other = self.app.get(str(offer.get("flow", "")))
        if picked.value == _SWITCH_YES and other is not None:
            self.end_active("replaced")
            trigger = offer.get("trigger")
            await self.start(other, trigger if isinstance(trigger, dict) else None)
            return True
        pending = pending_prompt(self.out.active_journal)
        if pending is not None:
            self.out.replies.append(pending)
        return True

    def typed_human(self, text: str | None, choice: str | None) -> bool:
        """Whether a typed answer ("3" on SMS) picks the open question's `baton:human` option."""
        if choice is not None or not text or self.out.active_run_id is None:
            return False
        pending = pending_prompt(self.out.active_journal)
        if pending is None or not pending.choices:
            return False
        picked = pending.choice_for(text)
        return picked is not None and picked.value == HUMAN_CHOICE

    def help_text(self) -> str:
        lines = [self.app.texts.help]
        for f in self.app.flows:
            if f.description:
                lines.append(f"- {f.description}")
        return "\n".join(lines)

    async def start(self, f: Flow, trigger: Mapping[str, Any] | None = None) -> None:
        run_id = self.new_run_id()
        first = JournalRow(
            0, "start", f.name, dict(trigger if trigger is not None else self.incoming)
        )
        self.out.new_runs.append((run_id, f.name))
        self.out.journal.append((run_id, first))
        await self.execute(f, run_id, [first], None)

    async def execute(
        self, f: Flow, run_id: str, journal: list[JournalRow], incoming: Mapping[str, Any] | None
    ) -> Replay | None:
        """Run `f` from its journal; the replay when the run is still waiting, else None."""
        replay = Replay(
            customer_id=self.state.customer_id,
            channel=self.channel,
            journal=journal,
            incoming=incoming,
            memory=self.memory,
            app=self.app,
            replies=self.out.replies,
            now=self.now,
        )
        self.prepare(run_id, replay)
        ctx = Context(replay)
        try:
            await f.fn(ctx)
        except Suspend:
            if replay.sleeping is not None:
                self.park(run_id, f, replay)
                return None
            if replay.unmatched:
                self.misunderstood = True
            self.keep(run_id, f, replay)
            return replay
        except ReplayMismatch as exc:
            log.warning("customer %s: flow %r restarted: %s", self.state.customer_id, f.name, exc)
            self.out.active_run_id = run_id
            self.end_active("restarted")
            self.say(self.app.texts.restarted)
            await self.start(f, journal[0].value)
            return None
        except Exception as exc:
            log.exception("customer %s: flow %r failed", self.state.customer_id, f.name)
            self.record(run_id, replay)
            self.out.active_run_id = run_id
            self.end_active("failed")
            self.out.error = exc
            self.say(self.app.texts.apology)
            return None
        self.record(run_id, replay)
        self.out.active_run_id = run_id
        self.end_active("done")
        return None

    def record(self, run_id: str, replay: Replay) -> None:
        self.out.journal.extend((run_id, row) for row in replay.new)
        self.out.events.extend(replay.events)
        if replay.handoff_reason is not None:
            self.set_status(ConversationStatus.WAITING, replay.handoff_reason, "flow")

    def keep(self, run_id: str, f: Flow, replay: Replay) -> None:
        self.record(run_id, replay)
        self.out.active_run_id = run_id
        self.out.active_flow = f.name
        self.out.active_journal = replay.journal
