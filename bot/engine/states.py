"""What the engine keeps of customers between turns: their state and their identities'
flags, bounded, so that most turns read nothing before they run.

With one engine process the cache is always right (every change goes through this
process). With several, lanes prime it when they take a customer's lease and it forgets a
customer when the lease is given back. Whatever else changes a customer outside a turn
(people in the console, a merge, an unlink) emits a signal that makes it forget them.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.engine.signals import (
    ConversationChanged,
    CustomersMerged,
    CustomerUnlinked,
    IdentityFlagged,
    LaneClaimed,
    LaneReleased,
    Signals,
)
from storage import CustomerState, Store

__all__ = ["CustomerStates"]

_CACHE_SIZE = 20_000


class CustomerStates:
    """A bounded cache of customer state and identity flags in front of the store."""

    def __init__(self, store: Store, signals: Signals) -> None:
        self._store = store
        self._states: OrderedDict[int, CustomerState] = OrderedDict()
        self._flags: OrderedDict[int, dict[str, bool]] = OrderedDict()
        signals.on(LaneClaimed, lambda s: self.remember(s.state), required=True)
        signals.on(LaneReleased, lambda s: self.forget(s.customer_id), required=True)
        signals.on(IdentityFlagged, self._flagged, required=True)
        signals.on(CustomersMerged, self._merged, required=True)
        signals.on(CustomerUnlinked, self._unlinked, required=True)
        signals.on(ConversationChanged, self._changed, required=True)

    async def state(self, customer_id: int) -> CustomerState:
        """The customer's state, from the cache or the store."""
        state = self._states.get(customer_id)
        if state is None:
            state = await self._store.load_state(customer_id)
        return state

    async def flags(self, identity_id: int) -> dict[str, bool]:
        """The identity's flags (opted_out, unreachable), from the cache or the store."""
        flags = self._flags.get(identity_id)
        if flags is None:
            flags = await self._store.identity_flags(identity_id)
            self._remember_flags(identity_id, flags)
        return flags

    def remember(self, state: CustomerState) -> None:
        """Keep `state` as the customer's current state."""
        self._states[state.customer_id] = state
        self._states.move_to_end(state.customer_id)
        if len(self._states) > _CACHE_SIZE:
            self._states.popitem(last=False)

    def remember_new(self, state: CustomerState, identity_id: int) -> None:
        """Keep the state of a customer the inbox just created, and their one identity's
        flags (none set), so their first turn reads neither (one engine process)."""
        self.remember(state)
        self._remember_flags(identity_id, {"opted_out": False, "unreachable": False})

    def forget(self, customer_id: int) -> None:
        """Drop the customer's cached state (it changed elsewhere)."""
        self._states.pop(customer_id, None)

    def _remember_flags(self, identity_id: int, flags: dict[str, bool]) -> None:
        self._flags[identity_id] = flags
        if len(self._flags) > _CACHE_SIZE:
            self._flags.popitem(last=False)

    def update_flags(self, identity_id: int, flags: dict[str, bool]) -> None:
        """Record flags set on an identity (by a turn or a failed send)."""
        cached = self._flags.get(identity_id)
        if cached is not None:
            cached.update(flags)

    def _flagged(self, signal: IdentityFlagged) -> None:
        self.update_flags(signal.identity_id, signal.flags)

    def _merged(self, signal: CustomersMerged) -> None:
        self.forget(signal.keep)
        self.forget(signal.other)

    def _unlinked(self, signal: CustomerUnlinked) -> None:
        self.forget(signal.customer_id)
        self.forget(signal.new_customer_id)

    def _changed(self, signal: ConversationChanged) -> None:
        if signal.customer_id is not None:
            self.forget(signal.customer_id)
