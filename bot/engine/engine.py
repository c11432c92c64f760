"""The engine: inbox in, one customer at a time, outbox out; recovery after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from adapters.base import Adapter, DeliveryUpdate, Inbound
from adapters.errors import BadRequest
from bot.engine.lanes import Lanes
from bot.engine.outbox import Outbox
from bot.engine.turns import TurnHandler
from bot.linking import Linker
from dialogs import App
from storage import Accepted, AlreadyHandled, NewInbound, Store
from storage.identities import Merged, Unlinked

log = logging.getLogger("baton.engine")

__all__ = ["Engine"]

_MAX_ID = 255


class Engine:
    """Implements the adapters' `Sink`: commits input, then handles it in order.

    `send_adapters` stand in for some channels' adapters in the outbox only (sends made in
    child processes, `bot.engine.send_process`); routes, start and linking use `adapters`.
    """

    def __init__(
        self,
        store: Store,
        app: App,
        adapters: Mapping[str, Adapter],
        *,
        outbox_max_attempts: int = 8,
        outbox_base_delay: float = 1.0,
        outbox_max_delay: float = 600.0,
        sweep_interval: float = 5.0,
        max_failures: int = 3,
        send_adapters: Mapping[str, Adapter] | None = None,
    ) -> None:
        self.store = store
        self.app = app
        self.adapters = dict(adapters)
        self.outbox = Outbox(
            store,
            {**self.adapters, **send_adapters} if send_adapters else self.adapters,
            max_attempts=outbox_max_attempts,
            base_delay=outbox_base_delay,
            max_delay=outbox_max_delay,
        )
        self.turns = TurnHandler(store, app, self.outbox)
        self.outbox.on_identity = self.turns.identity_changed
        self.lanes = Lanes(store, self._handle)
        self.sweep_interval = sweep_interval
        self.max_failures = max_failures
        self._failures: dict[int, int] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.lanes.on_change = self.outbox.on_change = self._activity
        self.lanes.on_claim = self.turns.prime
        self.lanes.on_release = self.turns.forget
        # Linking channels (bot.linking): a merge puts both customers on one lane.
        self.linker = Linker(store)
        self.turns.linker = self.linker
        self.linker.on_merge = self.merged
        self.lanes.on_stray = self._sweep_merged

    def merged(self, merged: Merged) -> None:
        """Two customers became one (a link by proof, or by an agent): one lane, no stale
        cached state."""
        self.lanes.merged(merged.other, merged.keep)
        self.turns.forget(merged.keep)
        self.turns.forget(merged.other)
        self.linker.forget(merged.keep)

    def unlinked(self, unlinked: Unlinked) -> None:
        """An identity left its customer (an unlink by an agent or admin)."""
        self.lanes.unmerged(unlinked.new_customer_id)
        for customer_id in (unlinked.customer_id, unlinked.new_customer_id):
            self.turns.forget(customer_id)
            self.linker.forget(customer_id)

    async def link(self, identity_a: int, identity_b: int, *, actor: str) -> Merged | None:
        """Link two identities (an agent or admin vouches for it)."""
        merged = await self.linker.store.link(identity_a, identity_b, actor=actor)
        if merged is not None:
            self.merged(merged)
        return merged

    async def unlink(self, identity_id: int, *, actor: str) -> Unlinked | None:
        """Give an identity its own customer again (see `storage.identities`)."""
        unlinked = await self.linker.store.unlink(identity_id, actor=actor)
        if unlinked is not None:
            self.unlinked(unlinked)
        return unlinked

    async def _sweep_merged(self, other: int, keep: int) -> None:
        merged = await self.linker.store.sweep(other, keep)
        if merged is not None:
            self.turns.forget(keep)

    async def start(self) -> None:
        """Pick up what a previous run left: unprocessed inbox rows and unsent replies."""
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
        if not self.store.exclusive:
            try:
                await self.store.release_all()
            except Exception:
                log.exception("could not hand back leases; they expire on their own")

    def _activity(self) -> None:
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
                    self.turns.prime_new(row.new_customer, row.identity_id)
                self.lanes.push(row)
        return [row is not None for row in accepted]

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
            await self.turns.handle(row)
        except AlreadyHandled:
            log.info("inbox %s was already handled elsewhere; skipped", row.inbox_id)
            self.turns.forget(row.customer_id)
        except Exception:
            count = self._failures.get(row.inbox_id, 0) + 1
            self._failures[row.inbox_id] = count
            self.turns.forget(row.customer_id)
            if count < self.max_failures:
                raise
            log.exception(
                "inbox %s failed %d times; recorded without a reply", row.inbox_id, count
            )
            await self.turns.give_up(row)
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
