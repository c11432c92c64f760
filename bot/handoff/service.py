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
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.engine.pipeline import Slot
from bot.engine.signals import ConversationChanged, Signals, TurnCommitted
from bot.handoff.estimates import describe_wait, estimate_per_place, should_tell
from bot.handoff.hours import BusinessHours
from dialogs import App, pending_prompt
from dialogs.languages import language_in
from storage import AgentRow, ConsoleStore, OutboxRow, Store, WaitingRow
from storage.vocabulary import OPEN, ConversationStatus, HandoffOutcome, HandoffStatus

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder
    from bot.settings import Settings

log = logging.getLogger("baton.handoff")

__all__ = ["HandoffConfig", "Handoffs"]


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

    @classmethod
    def from_settings(cls, settings: Settings) -> HandoffConfig:
        """The handoff targets and schedule from the settings."""
        return cls(
            hours=BusinessHours.parse(
                settings.business_hours, settings.timezone, settings.holidays
            ),
            reply_by=settings.reply_by_minutes * 60,
            warn_before=settings.reply_by_warning_minutes * 60,
            per_place=settings.expected_wait_minutes * 60,
            update_every=settings.queue_update_minutes * 60,
        )


class Handoffs:
    """The handoff feature: the state machine around the database, the queue ticker, and
    the actions agents take from the console.

    Installed in every engine (`baton run`, `baton shell`, the test kit): its route stage
    (`bot.handoff.route`) commits the turns that involve people, guarded by the
    conversation's status, and opens or closes the handoff in the same transaction.
    """

    def __init__(
        self,
        config: HandoffConfig,
        *,
        clock: Callable[[], float] = time.time,
        queue_ticker: bool = True,
    ) -> None:
        self.config = config
        self.queue_ticker = queue_ticker
        """Whether this engine watches the queue (breaches, queue notices). `baton shell`
        does not: it has no platform channel to tell waiting customers on."""
        self.clock = clock
        self._per_place = config.per_place
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._installed: _Installed | None = None

    def install(self, builder: EngineBuilder) -> None:
        """Register the route stage and listen to committed turns."""
        from bot.handoff.route import HandoffRoute

        self._installed = _Installed(
            ConsoleStore(builder.store),
            builder.store,
            builder.app,
            builder.outbox.enqueue,
            builder.signals,
        )
        builder.stage(Slot.ROUTE, HandoffRoute(self))
        builder.on(TurnCommitted, self._committed)

    @property
    def _parts(self) -> _Installed:
        if self._installed is None:
            raise RuntimeError("the handoff feature is not installed in an engine")
        return self._installed

    @property
    def db(self) -> ConsoleStore:
        """The handoffs' storage."""
        return self._parts.db

    @property
    def store(self) -> Store:
        """The store of the engine this feature is installed in."""
        return self._parts.store

    @property
    def app(self) -> App:
        """The bot (for its texts)."""
        return self._parts.app

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

    def _committed(self, signal: TurnCommitted) -> None:
        # A turn involving people committed: what agents see changed; someone leaving the
        # queue may move others up.
        if signal.before in OPEN or signal.after != signal.before:
            self._parts.signals.emit(ConversationChanged(None))
            if (
                signal.before == ConversationStatus.WAITING
                and signal.after != ConversationStatus.WAITING
            ):
                self._wake.set()

    # -- agents act ----------------------------------------------------------------------------

    async def claim(self, conversation_id: int, customer_id: int, agent: AgentRow) -> None:
        """Take a waiting conversation (ConsoleConflict("taken") if someone was faster)."""
        notice = await self._in_language(
            customer_id, self.app.texts.agent_joined.format(agent=agent.name)
        )
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
            notices=[{"text": await self._in_language(customer_id, self.app.texts.resolved)}],
        )
        self._after(customer_id, rows)
        self._wake.set()

    async def hand_back(
        self, conversation_id: int, customer_id: int, agent: AgentRow, *, seen: int | None
    ) -> None:
        """Give the conversation back to the bot; the open question is asked again."""
        state = await self.store.load_state(customer_id)
        language = language_in(state.memory, self.app.languages.default)
        notices: list[Mapping[str, Any]] = [
            {"text": self.app.languages.translate(self.app.texts.handed_back, language)}
        ]
        question = pending_prompt(state.journal)
        if question is not None:
            notices.append(self.app.languages.prompt(question, language, self.app.texts).to_json())
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
        self,
        conversation_id: int,
        customer_id: int,
        agent: AgentRow,
        text: str,
        *,
        media: Sequence[Sequence[Any]] = (),
        files: Sequence[Mapping[str, Any]] = (),
    ) -> int:
        """Send the agent's reply on the customer's current channel; returns the message id.

        `media` ([kind, location, mime type, name]) go with it as attachments; `files` are
        what the console shows of them."""
        message_id, rows = await self.db.reply(
            conversation_id, agent.id, agent.name, text, media=media, files=files
        )
        self._after(customer_id, rows)
        return message_id

    async def _in_language(self, customer_id: int, text: str) -> str:
        """One of Baton's texts in the customer's language (`dialogs.languages`)."""
        languages = self.app.languages
        if languages.available() == [languages.default]:
            return text
        state = await self.store.load_state(customer_id)
        language = language_in(state.memory, languages.default)
        return languages.translate(text, language, self.app.texts)

    def _after(self, customer_id: int, rows: list[OutboxRow]) -> None:
        if rows:
            self._parts.send(rows)
        self._parts.signals.emit(ConversationChanged(customer_id))

    # -- the queue ticker ------------------------------------------------------------------------

    async def start(self, engine: Engine) -> None:
        """Repair conversations an older version left waiting without a handoff, then watch
        the queue."""
        repaired = await self.db.repair(self.deadline)
        if repaired:
            log.info(
                "queued %d conversation(s) that were waiting without a handoff", len(repaired)
            )
        await self.refresh_estimate()
        if self.queue_ticker:
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
            self._parts.signals.emit(ConversationChanged(None))

    async def _maybe_tell(self, row: WaitingRow, position: int, now: float) -> None:
        if not self.config.hours.is_open(now) and row.told_at is not None:
            return  # they were told when people answer again
        text, wait = self.notice(position, now)
        text = await self._in_language(row.customer_id, text)
        told = (row.told_position, row.told_wait, row.told_at)
        if not should_tell(told, position, wait, now=now, every=self.config.update_every):
            return
        rows = await self.db.tell(
            row.id, told_at=row.told_at, position=position, wait=wait, text=text, now=now
        )
        if rows:
            self._parts.send(rows)
            self._parts.signals.emit(ConversationChanged(None))


@dataclass(frozen=True, slots=True)
class _Installed:
    db: ConsoleStore
    store: Store
    app: App
    send: Callable[[list[OutboxRow]], None]
    signals: Signals
