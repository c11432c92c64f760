"""The engine: inbox in, one customer at a time, the turn pipeline, outbox out; recovery
after a restart. Built by `bot.engine.builder.EngineBuilder` with its features."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.base import DeliveryUpdate, Inbound
from adapters.errors import BadRequest
from bot.engine.lanes import Lanes
from bot.engine.signals import Activity, CustomersMerged, CustomerUnlinked, WorkScheduled
from bot.engine.turns import TurnRunner
from storage import Accepted, AlreadyHandled, FollowupStore, NewInbound, ScheduleWrite

if TYPE_CHECKING:
    from bot.engine.builder import EngineBuilder, Feature

log = logging.getLogger("baton.engine")

__all__ = ["Engine"]

_MAX_ID = 255
F = TypeVar("F")


class Engine:
    """Implements the adapters' `Sink`: commits input, then handles it in order."""

    def __init__(
        self,
        builder: EngineBuilder,
        runner: TurnRunner,
        features: Sequence[Feature],
        *,
        sweep_interval: float = 5.0,
        max_failures: int = 3,
    ) -> None:
        self.store = builder.store
        self.app = builder.app
        self.adapters = builder.adapters
        self.signals = builder.signals
        self.states = builder.states
        self.outbox = builder.outbox
        self.pipeline = runner.pipeline
        self.core = builder.core
        """The engine's own stages; `core.clock` is the time turns are run at."""
        self.features = tuple(features)
        self._runner = runner
        self.lanes = Lanes(self.store, self._handle, self.signals)
        self.sweep_interval = sweep_interval
        self.max_failures = max_failures
        self._failures: dict[int, int] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._started: list[Feature] = []
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.signals.on(Activity, self._activity)
        self.signals.on(
            CustomersMerged, lambda s: self.lanes.merged(s.other, s.keep), required=True
        )
        self.signals.on(
            CustomerUnlinked, lambda s: self.lanes.unmerged(s.new_customer_id), required=True
        )

    def feature(self, kind: type[F]) -> F:
        """The installed feature of type `kind` (LookupError when it is not installed)."""
        for feature in self.features:
            if isinstance(feature, kind):
                return feature
        raise LookupError(f"no {kind.__name__} is installed in this engine")

    async def start_features(self) -> None:
        """Start the features' background work, in order (once; `start` does it too)."""
        for feature in self.features[len(self._started) :]:
            await feature.start(self)
            self._started.append(feature)

    async def start(self) -> None:
        """Start the features (if not yet), then pick up what a previous run left:
        unprocessed inbox rows and unsent replies."""
        await self.start_features()
        await self.sweep()
        self._sweeper = asyncio.get_running_loop().create_task(
            self._sweep_forever(), name="baton-sweeper"
        )

    async def stop(self, grace: float = 10.0) -> None:
        """Finish running turns and sends in flight (sends up to `grace` seconds); queued work
        stays in the database for the next start."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.lanes.close()
        await self.outbox.close(grace)
        while self._started:
            feature = self._started.pop()
            try:
                await feature.stop()
            except Exception:
                log.exception("stopping %s failed", type(feature).__name__)
        if not self.store.exclusive:
            try:
                await self.store.release_all()
            except Exception:
                log.exception("could not hand back leases; they expire on their own")

    def _activity(self, _: Activity) -> None:
        if self.lanes.busy or self.outbox.pending:
            self._quiet.clear()
        else:
            self._quiet.set()

    @property
    def busy(self) -> bool:
        """True while any turn runs or any reply waits to be sent in this process."""
        return not self._quiet.is_set()

    async def idle(self) -> None:
        """Wait until no turn runs and no reply waits here (tests, `baton shell`)."""
        await self._quiet.wait()

    async def receive(self, messages: Sequence[Inbound]) -> list[bool]:
        """Commit `messages` to the inbox (deduplicated), then queue them. See `Sink`."""
        items = []
        for m in messages:
            for name, value in (
                ("message id", m.message_id),
                ("identity", m.identity),
                ("channel", m.channel),
            ):
                if not value or len(value) > _MAX_ID or "\x00" in value:
                    raise BadRequest(f"{name} must be 1-{_MAX_ID} characters without NUL")
            items.append(
                NewInbound(
                    m.channel, m.message_id, m.identity, m.to_json(), m.route, m.display_name
                )
            )
        accepted = await self.store.accept(items)
        for row in accepted:
            if row is not None:
                if row.new_customer is not None and self.store.exclusive:
                    self.states.remember_new(row.new_customer, row.identity_id)
                self.lanes.push(row)
        return [row is not None for row in accepted]

    async def start_flow(
        self,
        customer_id: int,
        flow_name: str,
        *,
        at: datetime | float | None = None,
        key: str | None = None,
        **args: Any,
    ) -> bool:
        """Start the flow `flow_name` for a customer, in their line: a turn without a
        customer message, handled in order with their messages, once, and committed like
        one (its replies go to the customer's current channel). The flow reads `args` from
        `ctx.args`.

        Example:
            >>> await engine.start_flow(42, "parcel_follow_up", order="1234 5678")

        Args:
            customer_id: the customer (LookupError when there is none).
            flow_name: a flow of the App, by name (LookupError when it is not registered).
            at: when (an aware datetime or seconds since the epoch, on the engine's clock);
                now when None.
            key: makes the call idempotent: a second start with the same key is not made
                (e.g. "survey:event:17"); False is returned then.
            **args: JSON values for the flow.

        Returns:
            True when scheduled, False when `key` was already used.
        """
        if self.app.get(flow_name) is None:
            raise LookupError(
                f"no flow named {flow_name!r} is registered in the App (add it to App(flows=[...])"
                " or with App.add)"
            )
        try:
            json.dumps(args)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"start_flow arguments must be JSON values: {exc}") from None
        if isinstance(at, datetime):
            if at.tzinfo is None:
                raise ValueError("start_flow(at=...) needs an aware datetime (with tzinfo)")
            due = at.timestamp()
        else:
            due = self.core.clock() if at is None else float(at)
        scheduled = await FollowupStore(self.store).schedule(
            ScheduleWrite(
                customer_id, "start", due, flow=flow_name, payload={"args": args}, key=key
            )
        )
        if scheduled:
            self.signals.emit(WorkScheduled(customer_id, due))
        return scheduled

    async def delivery_status(self, update: DeliveryUpdate) -> None:
        """Record a delivery receipt. See `Sink`."""
        found = await self.store.delivery_status(
            update.channel, update.platform_id, update.status, update.error_code
        )
        if not found:
            log.info(
                "delivery status for unknown %s message %s", update.channel, update.platform_id
            )

    async def _handle(self, row: Accepted) -> None:
        try:
            await self._runner.handle(row)
        except AlreadyHandled:
            log.info("inbox %s was already handled elsewhere; skipped", row.inbox_id)
            self.states.forget(row.customer_id)
        except Exception:
            count = self._failures.get(row.inbox_id, 0) + 1
            self._failures[row.inbox_id] = count
            self.states.forget(row.customer_id)
            if count < self.max_failures:
                raise
            log.exception(
                "inbox %s failed %d times; recorded without a reply", row.inbox_id, count
            )
            await self._runner.give_up(row)
            self._failures.pop(row.inbox_id, None)
        else:
            self._failures.pop(row.inbox_id, None)

    async def sweep(self) -> None:
        """Queue inbox rows and due replies that nobody is handling."""
        for row in await self.store.pending_inbox():
            self.lanes.push(row)
        due = await self.store.due_outbox()
        if due:
            self.outbox.enqueue(due)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed; trying again in %.0fs", self.sweep_interval)
