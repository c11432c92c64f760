"""Live handoff: bot -> waiting -> with an agent -> resolved -> bot.

A conversation's status says who holds it; each time it leaves the bot a handoff records the
episode (why, a summary for the agent, the reply-by deadline, who holds it, how it ended).

- The customer asks for a person (the "agent" interruption or a `baton:human` button), a flow
  calls `ctx.handoff(reason=...)`, or the bot fails to understand twice in a row: the
  conversation starts waiting, and the customer is told their place in the queue and the
  expected wait (or, outside business hours, when a person will answer).
- While it waits the bot still answers (the customer can finish the open question, or say
  "cancel"); an agent claims it, and from then on the bot stays quiet: the customer's
  messages go to the agent live. "cancel" / "bot" take the customer back to the bot.
- The agent resolves it (the bot answers the next message) or hands it back to the bot (the
  open question is asked again).

Waits are estimated from recent ones: an exponential moving average of the wait per place in
the queue, in business hours. The first human reply is promised within a target (30 minutes
by default, in business hours); a missed promise is recorded as a breach.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialogs import App, Outcome, pending_prompt
from dialogs.prompts import Prompt
from storage import (
    AgentRow,
    ConsoleStore,
    CustomerState,
    GuardedTurn,
    HandoffOpening,
    JournalRow,
    OutboxRow,
    ReplyWrite,
    Store,
    TurnWrite,
    WaitingRow,
)
from storage.vocabulary import OPEN, ConversationStatus, HandoffOutcome, HandoffStatus

log = logging.getLogger("baton.handoff")

__all__ = [
    "BusinessHours",
    "HandoffConfig",
    "Handoffs",
    "describe_wait",
    "estimate_per_place",
    "readable",
    "should_tell",
    "summarize",
]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LOOKAHEAD_DAYS = 400
_EMA_ALPHA = 0.3


# --- business hours ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When people answer: a week schedule in a time zone, minus holidays.

    Example:
        >>> hours = BusinessHours.parse("mon-fri 09:00-17:30; sat 10:00-16:00",
        ...                             "Europe/Amsterdam", "2026-12-25, 2026-12-26")
        >>> hours.is_open(time.time())
    """

    zone: ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...]
    """For Monday to Sunday: open intervals in minutes after midnight, local time."""
    holidays: frozenset[dt.date]
    always: bool
    """Open around the clock, every day."""

    @classmethod
    def parse(cls, spec: str = "", timezone: str = "UTC", holidays: str = "") -> BusinessHours:
        """Read a schedule like "mon-fri 09:00-17:30; sat 10:00-12:00,13:00-16:00".

        Empty (or "24/7") means always open. Days are mon..sun, as a range ("mon-fri") or a
        list ("mon,wed"). Holidays are ISO dates separated by commas or spaces.

        Raises:
            ValueError: the schedule, time zone or a holiday cannot be read.
        """
        zone = _zone(timezone)
        days = frozenset(_holidays(holidays))
        text = spec.strip().lower()
        if not text or text in ("24/7", "always"):
            week: tuple[tuple[tuple[int, int], ...], ...] = (((0, 1440),),) * 7
            return cls(zone, week, days, always=not days)
        table: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for entry in (e.strip() for e in text.split(";")):
            if not entry:
                continue
            parts = entry.split(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{entry!r}: write days then hours, like 'mon-fri 09:00-17:00'")
            for day in _day_set(parts[0]):
                for span in parts[1].replace(" ", "").split(","):
                    table[day].append(_span(span))
        if not any(table):
            raise ValueError("the schedule has no open hours")
        return cls(zone, tuple(tuple(sorted(d)) for d in table), days, always=False)

    def _day(self, day: dt.date) -> list[tuple[float, float]]:
        if day in self.holidays:
            return []
        out = []
        for start, end in self.week[day.weekday()]:
            out.append((self._at(day, start), self._at(day, end)))
        return out

    def _at(self, day: dt.date, minutes: int) -> float:
        if minutes >= 1440:
            day, minutes = day + dt.timedelta(days=1), 0
        local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.timestamp()

    def intervals(self, start: float) -> Iterator[tuple[float, float]]:
        """Open intervals (Unix seconds) from `start` on, the first clipped to `start`."""
        first = dt.datetime.fromtimestamp(start, self.zone).date()
        for offset in range(_LOOKAHEAD_DAYS):
            for a, b in self._day(first + dt.timedelta(days=offset)):
                if b > start:
                    yield max(a, start), b

    def is_open(self, at: float) -> bool:
        """Whether people answer at `at`."""
        return self.always or self.next_open(at) <= at

    def next_open(self, at: float) -> float:
        """`at` when open, else when it opens next."""
        if self.always:
            return at
        return next(iter(self.intervals(at)), (at, at))[0]

    def add(self, start: float, seconds: float) -> float:
        """The moment `seconds` of open time after `start` (a deadline in business hours)."""
        if self.always:
            return start + seconds
        remaining = seconds
        for a, b in self.intervals(start):
            if b - a >= remaining:
                return a + remaining
            remaining -= b - a
        return start + seconds

    def between(self, start: float, end: float) -> float:
        """Seconds of open time between `start` and `end`."""
        if self.always:
            return max(0.0, end - start)
        total = 0.0
        for a, b in self.intervals(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total

    def describe(self, at: float, now: float) -> str:
        """`at` as a customer reads it: "today at 09:00", "Monday 09:00 (Europe/Amsterdam)"."""
        local = dt.datetime.fromtimestamp(at, self.zone)
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        clock = local.strftime("%H:%M")
        if local.date() == today:
            when = f"today at {clock}"
        elif local.date() == today + dt.timedelta(days=1):
            when = f"tomorrow at {clock}"
        else:
            when = f"{_DAY_NAMES[local.weekday()]} {local.day} "
            when += f"{local.strftime('%B')} at {clock}"
        name = self.zone.key
        return f"{when} ({name} time)" if name != "UTC" else f"{when} UTC"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use a name like Europe/Amsterdam") from None


def _holidays(text: str) -> list[dt.date]:
    out = []
    for item in re.split(r"[\s,;]+", text.strip()):
        if item:
            try:
                out.append(dt.date.fromisoformat(item))
            except ValueError:
                raise ValueError(f"holiday {item!r} is not a date like 2026-12-25") from None
    return out


def _day_set(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        if part in ("daily", "every", "all"):
            days.extend(range(7))
            continue
        first, _, last = part.partition("-")
        if first[:3] not in _DAYS or (last and last[:3] not in _DAYS):
            raise ValueError(f"{part!r}: days are mon, tue, wed, thu, fri, sat, sun")
        a = _DAYS.index(first[:3])
        b = _DAYS.index(last[:3]) if last else a
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return days


def _span(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", text)
    if m is None:
        raise ValueError(f"{text!r}: hours look like 09:00-17:30")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= end or end > 1440:
        raise ValueError(f"{text!r}: the end must come after the start, at most 24:00")
    return start, end


# --- estimates and what the customer is told ---------------------------------------------------


def estimate_per_place(
    claims: Sequence[tuple[float, float, int]], hours: BusinessHours, default: float
) -> float:
    """Seconds of waiting per place in the queue: an exponential moving average over recent
    claims (waiting since, claimed at, place on entry), oldest first, in business hours."""
    ema: float | None = None
    for since, claimed, place in claims:
        wait = hours.between(since, claimed) / max(1, place)
        ema = wait if ema is None else _EMA_ALPHA * wait + (1 - _EMA_ALPHA) * ema
    return default if ema is None else max(ema, 1.0)


def describe_wait(seconds: float) -> str:
    """A wait as people say it: "less than a minute", "about 5 minutes", "about 2 hours"."""
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(seconds / 3600 * 2) / 2
    shown = f"{hours:g}"
    return f"about {shown} hour{'s' if hours != 1 else ''}"


def should_tell(
    told: tuple[int | None, float | None, float | None],
    position: int,
    wait: float,
    *,
    now: float,
    every: float,
) -> bool:
    """Whether a waiting customer hears their place again.

    `told` is (place, wait, when) of what they were told last. Only a meaningful change is
    told (they are next now, moved by at least two places and a quarter, or the wait changed
    by half and five minutes), and never twice within `every` seconds.
    """
    told_position, told_wait, told_at = told
    if told_at is not None and now - told_at < every:
        return False
    if told_position is None or told_wait is None:
        return True
    if position == 1 and told_position > 1:
        return True
    if abs(position - told_position) >= max(2, told_position / 4):
        return True
    return abs(wait - told_wait) >= max(300.0, told_wait / 2)


def readable(value: Any) -> Any:
    """A stored (journaled) value as plain JSON for people: tagged dates, decimals and
    dataclasses shown by value, without importing anything."""
    if isinstance(value, list):
        return [readable(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get("__baton__")
    if tag is None:
        return {str(k): readable(v) for k, v in value.items()}
    if tag == "tuple":
        return [readable(v) for v in value.get("items", ())]
    if "v" in value:
        return value["v"]
    return readable(value.get("fields", {}))


def _said(answer: Mapping[str, Any], prompt: Mapping[str, Any] | None) -> str:
    choice = answer.get("choice")
    if choice is not None and prompt is not None:
        for value, label in prompt.get("choices", ()):
            if value == choice:
                return str(label)
    if answer.get("text") is not None:
        text = str(answer["text"])
        if prompt is not None:
            picked = Prompt.from_json(prompt).choice_for(text)
            if picked is not None:
                return picked.label
        return text
    if choice is not None:
        return str(choice)
    if answer.get("contact_phone"):
        return f"shared contact {answer['contact_phone']}"
    if answer.get("location"):
        lat, lon = answer["location"]
        return f"shared location {lat}, {lon}"
    if answer.get("media"):
        return f"sent {len(answer['media'])} file(s)"
    return ""


def summarize(
    state: CustomerState, outcome: Outcome, identities: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What the agent reads first: the flow and step, the answers the bot collected, the
    customer's memory and their channels. Computed when the handoff happens."""
    journals: dict[str, list[JournalRow]] = {}
    flows: dict[str, str] = {}
    if state.active_run_id:
        journals[state.active_run_id] = list(state.journal)
        flows[state.active_run_id] = state.active_flow or ""
    for run_id, flow_name in outcome.new_runs:
        journals.setdefault(run_id, [])
        flows[run_id] = flow_name
    for run_id, row in outcome.journal:
        entries = journals.setdefault(run_id, [])
        if row.kind != "start" or not entries:
            entries.append(row)
    run = next((r for r, rows in journals.items() if any(j.kind == "handoff" for j in rows)), None)
    if run is None:
        run = outcome.active_run_id or (next(reversed(flows)) if flows else None)
    answers: list[dict[str, Any]] = []
    step: str | None = None
    if run is not None:
        prompts: dict[str, Mapping[str, Any]] = {}
        for row in journals.get(run, []):
            if row.kind == "ask":
                prompts[row.key] = row.value["prompt"]
                step = str(row.value["prompt"].get("text", row.key))
            elif row.kind == "answer":
                prompt = prompts.get(row.key)
                question = str(prompt.get("text", row.key)) if prompt else row.key
                answers.append({"question": question, "answer": _said(row.value, prompt)})
            elif row.kind == "recall":
                answers.append(
                    {
                        "question": row.key,
                        "answer": readable(row.value.get("value")),
                        "remembered": True,
                    }
                )
        open_question = (
            pending_prompt(outcome.active_journal) if outcome.active_run_id == run else None
        )
        step = open_question.text if open_question is not None else step
    memory = outcome.memory if outcome.memory is not None else state.memory
    return {
        "flow": flows.get(run) if run is not None else None,
        "step": step,
        "answers": answers,
        "memory": {
            k: readable(v) for k, v in (memory or {}).items() if not k.startswith("_baton")
        },
        "identities": [
            {
                "channel": i["channel"],
                "external_id": i["external_id"],
                "display_name": i.get("display_name"),
            }
            for i in identities
        ],
    }


# --- the service ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandoffConfig:
    """Targets and schedule of the human side."""

    hours: BusinessHours
    reply_by: float = 30 * 60.0
    """Seconds of business time until the first human reply is due."""
    warn_before: float = 5 * 60.0
    """The console warns this long before a reply-by deadline."""
    per_place: float = 5 * 60.0
    """Expected wait per place in the queue before there is any history."""
    update_every: float = 5 * 60.0
    """At most one queue update per waiting customer in this many seconds."""
    tick_every: float = 15.0
    """How often the queue is looked at (breaches, queue updates)."""


class Handoffs:
    """The handoff state machine around the database, the engine and the live view.

    Implements the engine's `Routing` (turns that involve people commit here, guarded by the
    conversation's status) and the actions agents take from the console.
    """

    def __init__(
        self,
        store: Store,
        app: App,
        config: HandoffConfig,
        *,
        send: Callable[[list[OutboxRow]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = ConsoleStore(store)
        self.store = store
        self.app = app
        self.config = config
        self.clock = clock
        self._send = send
        self._per_place = config.per_place
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.on_change: Callable[[], None] = lambda: None
        """Called after anything people see changed (the live view refreshes)."""
        self.forget: Callable[[int], None] = lambda _customer: None
        """Drops the engine's cached state of a customer after an agent changed it."""

    # -- estimates ---------------------------------------------------------------------------

    def deadline(self, since: float) -> float:
        """When the first human reply is due for a customer waiting since `since`."""
        return self.config.hours.add(since, self.config.reply_by)

    def expected_wait(self, position: int) -> float:
        """Seconds of business time a customer at `position` is expected to wait."""
        return max(1, position) * self._per_place

    def notice(self, position: int, now: float) -> tuple[str, float]:
        """What a waiting customer is told, and the wait it promises."""
        texts = self.app.texts
        wait = self.expected_wait(position)
        hours = self.config.hours
        if not hours.is_open(now):
            opens = hours.describe(hours.next_open(now), now)
            return texts.queue_closed.format(position=position, opens=opens), wait
        template = texts.queue_next if position == 1 else texts.queue_position
        return template.format(position=position, wait=describe_wait(wait)), wait

    async def refresh_estimate(self) -> float:
        """Re-read recent claims and update the wait per place."""
        claims = await self.db.recent_claims()
        self._per_place = estimate_per_place(claims, self.config.hours, self.config.per_place)
        return self._per_place

    # -- Routing: turns that involve people ---------------------------------------------------

    async def commit(
        self, turn: TurnWrite, state: CustomerState, outcome: Outcome, reply_to: ReplyWrite
    ) -> list[OutboxRow] | None:
        """Commit a turn only while the conversation still has the status it was routed on;
        open or close the handoff in the same transaction."""
        before = state.status
        after = outcome.status or before
        opening = None
        closing = None
        if after == ConversationStatus.WAITING and before not in OPEN:
            now = self.clock()
            identities = await self.db.identities(state.customer_id)
            position = await self.db.queue_length() + 1
            notice, wait = self.notice(position, now)
            opening = HandoffOpening(
                reason=outcome.handoff_reason,
                trigger=outcome.handoff_trigger or "customer",
                summary=summarize(state, outcome, identities),
                since=now,
                deadline_at=self.deadline(now),
                position=position,
                notice=notice,
                wait=wait,
            )
        elif before in OPEN and after not in OPEN:
            closing = (
                HandoffStatus.CANCELLED
                if before == ConversationStatus.WAITING
                else HandoffStatus.LEFT
            )
        result = await self.db.commit_guarded(
            GuardedTurn(turn, before, opening=opening, closing=closing, reply_to=reply_to)
        )
        if result is None:
            return None
        return result[0]

    def committed(self, customer_id: int, before: str, after: str) -> None:
        """A customer's turn involving people committed: refresh the live view; someone
        leaving the queue may move others up."""
        self.on_change()
        if before == ConversationStatus.WAITING and after != ConversationStatus.WAITING:
            self._wake.set()

    # -- agents act ----------------------------------------------------------------------------

    async def claim(self, conversation_id: int, customer_id: int, agent: AgentRow) -> None:
        """Take a waiting conversation (ConsoleConflict("taken") if someone was faster)."""
        notice = self.app.texts.agent_joined.format(agent=agent.name)
        rows = await self.db.claim(conversation_id, agent.id, admin=agent.admin, notice=notice)
        self._after(customer_id, rows)
        self._wake.set()

    async def assign(
        self, conversation_id: int, customer_id: int, agent: AgentRow, to_agent: int
    ) -> None:
        """Reserve the conversation for another agent."""
        await self.db.assign(conversation_id, agent.id, to_agent, admin=agent.admin)
        self._after(customer_id, [])

    async def release(self, conversation_id: int, customer_id: int, agent: AgentRow) -> None:
        """Put the conversation back in the queue."""
        await self.db.release(conversation_id, agent.id, admin=agent.admin)
        self._after(customer_id, [])
        self._wake.set()

    async def resolve(
        self, conversation_id: int, customer_id: int, agent: AgentRow, *, seen: int | None
    ) -> None:
        """Close the conversation as resolved; the bot answers the customer's next message."""
        rows = await self.db.end(
            conversation_id,
            agent.id,
            admin=agent.admin,
            outcome=HandoffOutcome.RESOLVED,
            seen=seen,
            notices=[{"text": self.app.texts.resolved}],
        )
        self._after(customer_id, rows)
        self._wake.set()

    async def hand_back(
        self, conversation_id: int, customer_id: int, agent: AgentRow, *, seen: int | None
    ) -> None:
        """Give the conversation back to the bot; the open question is asked again."""
        state = await self.store.load_state(customer_id)
        notices: list[Mapping[str, Any]] = [{"text": self.app.texts.handed_back}]
        question = pending_prompt(state.journal)
        if question is not None:
            notices.append(question.to_json())
        rows = await self.db.end(
            conversation_id,
            agent.id,
            admin=agent.admin,
            outcome=HandoffOutcome.HANDED_BACK,
            seen=seen,
            notices=notices,
        )
        self._after(customer_id, rows)
        self._wake.set()

    async def reply(
        self, conversation_id: int, customer_id: int, agent: AgentRow, text: str
    ) -> int:
        """Send the agent's reply on the customer's current channel; returns the message id."""
        message_id, rows = await self.db.reply(conversation_id, agent.id, agent.name, text)
        self._after(customer_id, rows)
        return message_id

    def _after(self, customer_id: int, rows: list[OutboxRow]) -> None:
        self.forget(customer_id)
        if rows:
            self._send(rows)
        self.on_change()

    # -- the queue ticker ------------------------------------------------------------------------

    async def start(self) -> None:
        """Repair conversations left waiting without a handoff, then watch the queue."""
        repaired = await self.db.repair(self.deadline)
        if repaired:
            log.info(
                "queued %d conversation(s) that were waiting without a handoff", len(repaired)
            )
        await self.refresh_estimate()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="baton-handoffs")

    async def stop(self) -> None:
        """Stop watching the queue."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Look at the queue now."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("looking at the queue failed; trying again")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as the event is set, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.tick_every):
                    await self._wake.wait()
            self._wake.clear()

    async def tick(self, now: float | None = None) -> None:
        """Record reply-by breaches and tell waiting customers about meaningful changes."""
        now = self.clock() if now is None else now
        breached = await self.db.record_breaches(now)
        await self.refresh_estimate()
        waiting = [w for w in await self.db.waiting() if w.status == HandoffStatus.WAITING]
        for position, row in enumerate(waiting, start=1):
            await self._maybe_tell(row, position, now)
        if breached:
            self.on_change()

    async def _maybe_tell(self, row: WaitingRow, position: int, now: float) -> None:
        if not self.config.hours.is_open(now) and row.told_at is not None:
            return  # they were told when people answer again
        text, wait = self.notice(position, now)
        told = (row.told_position, row.told_wait, row.told_at)
        if not should_tell(told, position, wait, now=now, every=self.config.update_every):
            return
        rows = await self.db.tell(
            row.id, told_at=row.told_at, position=position, wait=wait, text=text, now=now
        )
        if rows:
            self._send(rows)
            self.on_change()
