"""Durable events for app code: Python listeners, flows with an `Event` trigger and signed
webhooks.

An event is recorded in the transaction of what caused it (`storage.followup_writes.publish`):
a handoff's changes, a merge, a failed send, a flow's `ctx.emit`. The dispatcher then makes
one delivery per interested target (the delivered-mark per target) and works them off:

- `flows`: the event becomes work in the customer's line (at most once, keyed by the event);
  the first flow whose `Event` trigger accepts it starts there, like a message would;
- `listener:<name>`: an async Python function; one that raises is tried again with back-off
  (`BATON_EVENT_BASE_DELAY` doubling up to `BATON_EVENT_MAX_DELAY`, at most
  `BATON_EVENT_MAX_ATTEMPTS` times), and once it returned it is marked delivered, so a restart
  never runs it again;
- `webhook:<url>`: a signed POST (see `bot.followup.webhooks`), retried the same way.

Deliveries are claimed like the outbox's rows, so with several processes each runs once.
A delivery runs at least once and is marked once: a process killed between a listener's
return and the mark runs it again after the claim expires; listeners that must not repeat
an effect use `EventRecord.id` as an idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.followup.webhooks import WebhookError, post
from dialogs.wakes import event_flows
from storage import Delivery, FollowupStore, ScheduleWrite

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder

log = logging.getLogger("baton.followup")

__all__ = ["EventRecord", "Listener", "Listeners"]

Listener = Callable[["EventRecord"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as listeners and webhooks get it."""

    id: int
    name: str
    """e.g. "conversation.resolved"."""
    customer_id: int
    data: Mapping[str, Any]
    created_at: float

    def to_json(self) -> dict[str, Any]:
        """The webhook body."""
        return {
            "id": self.id,
            "name": self.name,
            "customer_id": self.customer_id,
            "data": dict(self.data),
            "created_at": self.created_at,
        }


class Listeners:
    """Python listeners of events: a feature to pass to the engine.

    Example:
        >>> listeners = Listeners()
        >>> @listeners.on("conversation.resolved")
        ... async def tell_crm(event: EventRecord) -> None:
        ...     await crm.close_ticket(event.customer_id, key=event.id)
        >>> create_app(settings, app, features=[listeners])

    A name may be a pattern: "handoff.*", or "*" for every event.
    """

    def __init__(self) -> None:
        self.listeners: dict[str, tuple[str, Listener]] = {}

    def on(self, pattern: str, *, name: str | None = None) -> Callable[[Listener], Listener]:
        """Register an async function for events matching `pattern`. `name` (by default the
        function's module and name) identifies its delivered-marks: keep it stable."""

        def register(fn: Listener) -> Listener:
            if not asyncio.iscoroutinefunction(fn):
                raise TypeError(f"event listener {fn!r} must be an async function")
            key = name or f"{fn.__module__}.{fn.__qualname__}"
            if key in self.listeners:
                raise ValueError(f"two event listeners are named {key!r}")
            self.listeners[key] = (pattern, fn)
            return fn

        return register

    def install(self, builder: EngineBuilder) -> None:
        """Nothing to install: the Followup feature reads the listeners at start."""

    async def start(self, engine: Engine) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""


@dataclass(slots=True)
class _Target:
    accepts: Callable[[str], bool]
    run: Callable[[Delivery, EventRecord], Awaitable[int | None]]
    """Deliver; the HTTP status for webhooks. Raises to retry."""


@dataclass(slots=True)
class Dispatcher:
    """Routes events to targets and works the deliveries off (see the module docstring)."""

    store: FollowupStore
    poll: float = 1.0
    base_delay: float = 5.0
    max_delay: float = 3600.0
    max_attempts: int = 10
    webhook_secret: str | None = None
    targets: dict[str, _Target] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _session: aiohttp.ClientSession | None = None
    _schedule_nudge: Callable[[], None] = lambda: None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One pass at a time in a process (the loop and `tick`): a delivery in flight is
    claimed by this process and must not be picked up again by a second pass."""

    def nudge(self) -> None:
        """Look for work now (something was committed)."""
        self._wake.set()

    def add_listener(self, name: str, pattern: str, fn: Listener) -> None:
        """Deliver events matching `pattern` to `fn`."""

        async def run(_: Delivery, event: EventRecord) -> None:
            await fn(event)

        self.targets[f"listener:{name}"] = _Target(_matcher(pattern), run)

    def add_listener_where(self, name: str, accepts: Callable[[str], bool], fn: Listener) -> None:
        """Deliver events whose name `accepts` to `fn`."""

        async def run(_: Delivery, event: EventRecord) -> None:
            await fn(event)

        self.targets[f"listener:{name}"] = _Target(accepts, run)

    def add_webhook(self, url: str, patterns: Sequence[str]) -> None:
        """POST events matching any of `patterns` to `url`, signed."""

        async def run(delivery: Delivery, event: EventRecord) -> int:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            return await post(
                self._session,
                url,
                event.to_json(),
                secret=self.webhook_secret,
                delivery_id=delivery.id,
            )

        matchers = [_matcher(p) for p in patterns]
        self.targets[f"webhook:{url}"] = _Target(lambda n: any(m(n) for m in matchers), run)

    def add_flows(self, engine: Engine) -> None:
        """Hand events to the flows with an `Event` trigger, in the customer's line."""
        app = engine.app

        async def run(delivery: Delivery, event: EventRecord) -> None:
            then = ScheduleWrite(
                event.customer_id,
                "event",
                engine.core.clock(),
                payload={"event": {"id": event.id, "name": event.name, "data": dict(event.data)}},
                key=f"event:{event.id}",
            )
            if await self.store.delivered(delivery, then=then):
                self._schedule_nudge()
            raise _AlreadyMarked

        if any(f.triggers and any(hasattr(t, "accepts") for t in f.triggers) for f in app.flows):
            self.targets["flows"] = _Target(lambda n: bool(event_flows(app, n)), run)

    def start(self, schedule_nudge: Callable[[], None]) -> None:
        """Run in the background."""
        self._schedule_nudge = schedule_nudge
        self._task = asyncio.get_running_loop().create_task(self._forever(), name="baton-events")

    async def stop(self) -> None:
        """Stop; deliveries in flight finish or are tried again later."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("event delivery failed; trying again in %.0fs", self.poll)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()

    async def run_once(self) -> int:
        """Route new events and work off the deliveries due; how many were handled."""
        if not self.targets:
            return 0
        async with self._lock:
            return await self._pass()

    async def _pass(self) -> int:
        accepts = {name: t.accepts for name, t in self.targets.items()}
        await self.store.route_events(accepts)
        due = await self.store.due_deliveries(time.time(), list(self.targets))
        groups: dict[tuple[int, str], list[Delivery]] = {}
        for delivery in due:
            groups.setdefault((delivery.customer_id, delivery.target), []).append(delivery)
        await asyncio.gather(*(self._group(g) for g in groups.values()))
        return len(due)

    async def _group(self, deliveries: list[Delivery]) -> None:
        # One customer's events to one target in order; a failure holds the rest back.
        for delivery in deliveries:
            if not await self._deliver(delivery):
                return

    async def _deliver(self, delivery: Delivery) -> bool:
        target = self.targets.get(delivery.target)
        if target is None:
            return True  # configured in another process (or no longer): left for it
        event = EventRecord(
            delivery.event_id,
            delivery.name,
            delivery.customer_id,
            delivery.data,
            delivery.created_at,
        )
        try:
            status = await target.run(delivery, event)
        except _AlreadyMarked:
            return True
        except Exception as exc:
            status = exc.status if isinstance(exc, WebhookError) else None
            attempts = delivery.attempts + 1
            if attempts >= self.max_attempts:
                log.error(
                    "event %s to %s failed %d times; given up: %s",
                    delivery.event_id,
                    delivery.target,
                    attempts,
                    exc,
                )
                await self.store.retry(delivery, at=None, error=str(exc), response_status=status)
                return False
            delay = min(self.base_delay * 2 ** (attempts - 1), self.max_delay)
            log.warning(
                "event %s to %s failed (attempt %d), again in %.1fs: %s",
                delivery.event_id,
                delivery.target,
                attempts,
                delay,
                exc,
            )
            await self.store.retry(
                delivery,
                at=time.time() + delay,
                error=f"{type(exc).__name__}: {exc}",
                response_status=status,
            )
            self._retry_soon(delay)
            return False
        await self.store.delivered(delivery, response_status=status)
        return True

    def _retry_soon(self, delay: float) -> None:
        if delay < self.poll:
            asyncio.get_running_loop().call_later(delay, self._wake.set)


class _AlreadyMarked(Exception):
    """The target marked the delivery itself (in the transaction of its effect)."""


def _matcher(pattern: str) -> Callable[[str], bool]:
    return lambda name: fnmatch.fnmatchcase(name, pattern)
