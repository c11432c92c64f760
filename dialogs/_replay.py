"""The replay runtime: one turn of one customer, from journal to outcome.

Private: the engine calls `run_turn`; flows only see `Context`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs import _codec
from dialogs.context import Answer, Context, Memory, convert_answer, is_async, mismatch
from dialogs.errors import Invalid, ReplayMismatch
from dialogs.flows import App, Flow
from dialogs.prompts import Prompt
from dialogs.triggers import Message
from storage.records import CustomerState, JournalRow
from storage.vocabulary import ConversationStatus

log = logging.getLogger("baton.flows")

__all__ = ["HUMAN_CHOICE", "MISUNDERSTOOD_KEY", "Outcome", "Replay", "pending_prompt", "run_turn"]

HUMAN_CHOICE = "baton:human"
"""A button value that asks for a person wherever it is pressed, like saying "agent"."""
MISUNDERSTOOD_KEY = "_baton_misunderstood"
"""Memory key counting messages in a row the bot could not use (hidden from people)."""
_MISUNDERSTOOD_LIMIT = 2


class _Suspend(BaseException):
    """The flow waits for the customer's next message. A BaseException, so a flow's own
    `except Exception` cannot swallow it."""


@dataclass(slots=True)
class Outcome:
    """What a turn did; the engine commits it in one transaction."""

    replies: list[Prompt] = field(default_factory=list)
    journal: list[tuple[str, JournalRow]] = field(default_factory=list)
    new_runs: list[tuple[str, str]] = field(default_factory=list)
    ended_runs: list[tuple[str, str]] = field(default_factory=list)
    active_run_id: str | None = None
    active_flow: str | None = None
    active_journal: list[JournalRow] = field(default_factory=list)
    memory: dict[str, Any] | None = None
    status: str | None = None
    handoff_reason: str | None = None
    handoff_trigger: str | None = None
    """Why the conversation started waiting: "customer", "flow" or "misunderstood"."""
    error: BaseException | None = None


class Replay:
    """Walks a run's journal while the flow function runs again from the top."""

    def __init__(
        self,
        *,
        customer_id: int,
        channel: str,
        journal: list[JournalRow],
        incoming: Mapping[str, Any] | None,
        memory: Memory,
        app: App,
        replies: list[Prompt],
    ) -> None:
        self.customer_id = customer_id
        self.channel = channel
        self.journal = journal
        self.pos = 1  # entry 0 is the run's start
        self.new: list[JournalRow] = []
        self.incoming = incoming
        self.memory = memory
        self.app = app
        self.replies = replies
        self.trigger: Mapping[str, Any] = journal[0].value or {}
        self.last_answer: Answer | None = None
        self.handoff_reason: str | None = None
        self.unmatched = False
        """The answer to a question with choices matched none of them (not understood)."""

    def _next(self) -> JournalRow | None:
        return self.journal[self.pos] if self.pos < len(self.journal) else None

    def _record(self, kind: str, key: str, value: Any) -> None:
        row = JournalRow(len(self.journal), kind, key, value)
        self.journal.append(row)
        self.new.append(row)
        self.pos += 1

    async def ask(
        self,
        prompt: Prompt,
        *,
        validate: Callable[[str], Any] | None,
        remember: str | None,
        key: str | None,
    ) -> Any:
        fp = key or remember or prompt.text
        texts = self.app.texts
        entry = self._next()
        if entry is None:
            if remember is not None and remember in self.memory:
                value = self.memory[remember]
                self._record("recall", fp, {"value": _codec.encode(value)})
                return value
            self._record("ask", fp, {"prompt": prompt.to_json()})
            self.replies.append(prompt)
            raise _Suspend
        if entry.kind == "recall" and entry.key == fp:
            self.pos += 1
            return _codec.decode(entry.value["value"])
        if entry.kind != "ask" or entry.key != fp:
            raise mismatch(f"ask({fp!r})", f"{entry.kind}({entry.key!r})")
        self.pos += 1
        answered = self._next()
        if answered is not None:
            if answered.kind != "answer" or answered.key != fp:
                raise mismatch(f"the answer to {fp!r}", f"{answered.kind}({answered.key!r})")
            self.pos += 1
            try:
                value = convert_answer(
                    prompt, answered.value, validate, texts.pick_a_choice, texts.answer_in_text
                )
            except Invalid:
                raise ReplayMismatch(
                    f"the recorded answer to {fp!r} no longer validates"
                ) from None
            if remember is not None:
                # Replayed, the flow may have changed memory before this point again (e.g.
                # cleared it): what the customer answered stays remembered.
                self.memory[remember] = value
            self.last_answer = Answer(answered.value)
            return value
        if self.incoming is None:
            raise _Suspend
        answer, self.incoming = self.incoming, None
        try:
            value = convert_answer(
                prompt, answer, validate, texts.pick_a_choice, texts.answer_in_text
            )
        except Invalid as invalid:
            self.replies.append(Prompt(invalid.message, prompt.choices))
            # A validator's message means the bot understood but the value is wrong; only an
            # answer that matches none of the choices counts as not understood.
            self.unmatched = bool(prompt.choices) and invalid.message == texts.pick_a_choice
            raise _Suspend from None
        self._record("answer", fp, dict(answer))
        if remember is not None:
            self.memory[remember] = value
        self.last_answer = Answer(answer)
        return value

    async def say(self, prompt: Prompt) -> None:
        entry = self._next()
        if entry is None:
            self._record("say", "say", None)
            self.replies.append(prompt)
            return
        if entry.kind != "say":
            raise mismatch("say()", f"{entry.kind}({entry.key!r})")
        self.pos += 1

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        entry = self._next()
        if entry is None:
            result = await fn(*args, **kwargs) if is_async(fn) else fn(*args, **kwargs)
            self._record("step", name, _codec.encode(result))
            return result
        if entry.kind != "step" or entry.key != name:
            raise mismatch(f"step({name!r})", f"{entry.kind}({entry.key!r})")
        self.pos += 1
        return _codec.decode(entry.value)

    async def sub(self, sub: Flow, ctx: Context) -> Any:
        entry = self._next()
        if entry is None:
            self._record("sub", sub.name, None)
        elif entry.kind != "sub" or entry.key != sub.name:
            raise mismatch(f"run({sub.name!r})", f"{entry.kind}({entry.key!r})")
        else:
            self.pos += 1
        return await sub.fn(ctx)

    async def handoff(self, reason: str) -> None:
        entry = self._next()
        if entry is None:
            self._record("handoff", "handoff", reason)
            self.handoff_reason = reason
            self.replies.append(Prompt(self.app.texts.human_waiting))
            return
        if entry.kind != "handoff":
            raise mismatch("handoff()", f"{entry.kind}({entry.key!r})")
        self.pos += 1


def pending_prompt(journal: list[JournalRow]) -> Prompt | None:
    """The question a run waits on, if its last entry is an unanswered `ask`."""
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
) -> Outcome:
    """Handle one customer message: interruptions, triggers, then the active flow."""
    turn = _Turn(app, state, incoming, channel, new_run_id)
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
    ) -> None:
        self.app = app
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
        count = self.memory.raw().get(MISUNDERSTOOD_KEY, 0)
        if not self.misunderstood or self.status != ConversationStatus.BOT:
            if count:
                del self.memory[MISUNDERSTOOD_KEY]
            return
        count += 1
        if count < _MISUNDERSTOOD_LIMIT:
            self.memory[MISUNDERSTOOD_KEY] = count
            return
        if MISUNDERSTOOD_KEY in self.memory:
            del self.memory[MISUNDERSTOOD_KEY]
        self.set_status(
            ConversationStatus.WAITING,
            "the bot did not understand the customer twice in a row",
            "misunderstood",
        )
        self.say(self.app.texts.not_understood_handoff)

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
        if self.status == ConversationStatus.RESOLVED:
            self.set_status(ConversationStatus.BOT)
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
        if self.out.active_run_id is not None:
            active = app.get(self.out.active_flow or "")
            if active is not None:
                await self.execute(
                    active, self.out.active_run_id, list(self.out.active_journal), incoming
                )
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
    ) -> None:
        replay = Replay(
            customer_id=self.state.customer_id,
            channel=self.channel,
            journal=journal,
            incoming=incoming,
            memory=self.memory,
            app=self.app,
            replies=self.out.replies,
        )
        ctx = Context(replay)
        try:
            await f.fn(ctx)
        except _Suspend:
            if replay.unmatched:
                self.misunderstood = True
            self.keep(run_id, f, replay)
            return
        except ReplayMismatch as exc:
            log.warning("customer %s: flow %r restarted: %s", self.state.customer_id, f.name, exc)
            self.out.active_run_id = run_id
            self.end_active("restarted")
            self.say(self.app.texts.restarted)
            await self.start(f, journal[0].value)
            return
        except Exception as exc:
            log.exception("customer %s: flow %r failed", self.state.customer_id, f.name)
            self.record(run_id, replay)
            self.out.active_run_id = run_id
            self.end_active("failed")
            self.out.error = exc
            self.say(self.app.texts.apology)
            return
        self.record(run_id, replay)
        self.out.active_run_id = run_id
        self.end_active("done")

    def record(self, run_id: str, replay: Replay) -> None:
        self.out.journal.extend((run_id, row) for row in replay.new)
        if replay.handoff_reason is not None:
            self.set_status(ConversationStatus.WAITING, replay.handoff_reason, "flow")

    def keep(self, run_id: str, f: Flow, replay: Replay) -> None:
        self.record(run_id, replay)
        self.out.active_run_id = run_id
        self.out.active_flow = f.name
        self.out.active_journal = replay.journal
