"""Replay of one flow run: walks its journal while the flow function runs again from the top.

Private to `dialogs`: `dialogs.runtime` drives it, and flows see it only through `Context`.
Journaled calls (`ask` answered, `say`, `step`, `handoff`, a sub-flow) return at once with
what was recorded; the first call past the journal's end does its work and is recorded, and
the first question without an answer suspends the flow until the next message.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

from dialogs import _codec
from dialogs.context import Answer, Context, Memory, convert_answer, is_async, mismatch
from dialogs.errors import Invalid, MissingAwait, ReplayMismatch
from dialogs.flows import App, Flow
from dialogs.prompts import Prompt
from storage.records import JournalRow

__all__ = ["Replay", "Suspend"]


class Suspend(BaseException):
    """The flow waits for the customer's next message. A BaseException, so a flow's own
    `except Exception` cannot swallow it."""


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
        now: float | None = None,
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
        self.now = now
        """The time of the message (seconds since the epoch) when the engine passes it."""
        self.unmatched = False
        """The answer to a question with choices matched none of them (not understood)."""
        self.rejected = False
        """The answer was refused (no option matched, or the validator said `Invalid`)."""
        self.sleeping: tuple[int, float, bool] | None = None
        """The flow sleeps: (journal seq of its `sleep`, until when, cancel on a message)."""
        self.wake_seq: int | None = None
        """Set when this turn wakes the run: the seq of the `sleep` that is over."""
        self.events: list[tuple[str, dict[str, Any]]] = []
        """Events the flow emitted in this turn (new journal entries only)."""

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
            asked: dict[str, Any] = {"prompt": prompt.to_json()}
            if self.now is not None:
                asked["at"] = self.now  # when it was asked, for its expiry (dialogs.runtime)
            self._record("ask", fp, asked)
            self.replies.append(prompt)
            raise Suspend
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
            raise Suspend
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
            self.rejected = True
            raise Suspend from None
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
            if inspect.iscoroutine(result):  # a plain function that returned a coroutine
                raise MissingAwait.given(f"step({name!r})", result)
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

    async def sleep(self, *, until: float | None, delay: float | None, cancel: bool) -> None:
        """A durable timer: recorded, then the flow suspends until its wake-up turn."""
        entry = self._next()
        if entry is None:
            now = self.now if self.now is not None else time.time()
            at = until if until is not None else now + (delay or 0.0)
            seq = len(self.journal)
            self._record("sleep", "sleep", {"until": at, "cancel_on_message": cancel})
            self.sleeping = (seq, at, cancel)
            raise Suspend
        if entry.kind != "sleep":
            raise mismatch("sleep()", f"{entry.kind}({entry.key!r})")
        seq = self.pos
        self.pos += 1
        woke = self._next()
        if woke is not None:
            if woke.kind != "woke":
                raise mismatch("the end of a sleep", f"{woke.kind}({woke.key!r})")
            self.pos += 1
            return
        if self.wake_seq == seq:
            self.wake_seq = None
            now = self.now if self.now is not None else time.time()
            self._record("woke", "woke", {"at": now})
            return
        value = entry.value if isinstance(entry.value, dict) else {}
        self.sleeping = (seq, float(value.get("until", 0.0)), bool(value.get("cancel_on_message")))
        raise Suspend

    async def emit(self, name: str, data: dict[str, Any]) -> None:
        """Record an event once (a replay does not emit it again)."""
        entry = self._next()
        if entry is None:
            self._record("emit", name, data)
            self.events.append((name, data))
            return
        if entry.kind != "emit" or entry.key != name:
            raise mismatch(f"emit({name!r})", f"{entry.kind}({entry.key!r})")
        self.pos += 1
