"""What happens inside one Baton process, told to whoever registered for it.

The engine's parts and the features never hold each other's callbacks: each part *emits* a
signal (a small frozen dataclass), and whoever cares registers a listener for that signal's
type at build time (`EngineBuilder.on`, see `bot.engine.builder`). Listeners run in the order
they were registered, right away, in the emitting task; one that raises is logged and the
others still run.

These signals are in-process and not durable: they keep caches, lanes and live views in
step. Signals of the engine:

| signal | emitted by | when |
|---|---|---|
| `Activity` | lanes, outbox | work started or stopped (the engine's idle tracking) |
| `LaneClaimed` | lanes | a customer's lease was taken with their state (several processes) |
| `LaneReleased` | lanes | a customer's lease was given back (their cached state may go stale) |
| `StrayRows` | lanes | a row of a merged customer finished on its old lane (awaited) |
| `IdentityFlagged` | outbox | a send proved an identity opted out or unreachable |
| `TurnCommitted` | the turn pipeline | a customer's turn was committed |
| `CustomersMerged` | linking | two customers became one |
| `CustomerUnlinked` | linking | an identity left its customer |
| `ConversationChanged` | handoff | people changed a conversation (claim, reply, resolve, queue) |
| `WorkScheduled` | engine | work was scheduled in a customer's line (`Engine.start_flow`) |
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from storage import CustomerState

log = logging.getLogger("baton.engine")

__all__ = [
    "Activity",
    "ConversationChanged",
    "CustomerUnlinked",
    "CustomersMerged",
    "IdentityFlagged",
    "LaneClaimed",
    "LaneReleased",
    "Signals",
    "StrayRows",
    "TurnCommitted",
    "WorkScheduled",
]

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Activity:
    """Lanes or the outbox started or finished work."""


@dataclass(frozen=True, slots=True)
class LaneClaimed:
    """A lane took a customer's lease and read their state with it."""

    state: CustomerState


@dataclass(frozen=True, slots=True)
class LaneReleased:
    """A lane gave a customer's lease back."""

    customer_id: int


@dataclass(frozen=True, slots=True)
class StrayRows:
    """A row of `other` finished on its own lane after `other` was merged into `keep`."""

    other: int
    keep: int


@dataclass(frozen=True, slots=True)
class IdentityFlagged:
    """A send proved an identity opted out or unreachable."""

    identity_id: int
    flags: dict[str, bool]


@dataclass(frozen=True, slots=True)
class TurnCommitted:
    """A customer's turn committed; `before` and `after` are the conversation's status."""

    customer_id: int
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class CustomersMerged:
    """`other` was merged into `keep` (a link by proof, or by an agent)."""

    keep: int
    other: int


@dataclass(frozen=True, slots=True)
class CustomerUnlinked:
    """An identity of `customer_id` left it for a customer of its own, `new_customer_id`."""

    customer_id: int
    new_customer_id: int


@dataclass(frozen=True, slots=True)
class ConversationChanged:
    """People changed a conversation (or the queue, when `customer_id` is None): what
    agents see is stale, and so is the engine's cached state of that customer."""

    customer_id: int | None


@dataclass(frozen=True, slots=True)
class WorkScheduled:
    """Work was scheduled in a customer's line, due at `due_at` (engine clock)."""

    customer_id: int
    due_at: float


class Signals:
    """Listeners by signal type. Registered while the engine is built, emitted at run time.

    A listener the engine relies on (lanes, the state cache, the sweep of a merged
    customer's rows) is registered `required`: its error reaches whoever emitted the signal
    (after the other listeners ran), so a turn fails and is tried again rather than going on
    with lanes or caches out of step. Other listeners' errors are logged.
    """

    def __init__(self) -> None:
        self._listeners: dict[type, list[tuple[Callable[[Any], None], bool]]] = {}
        self._awaited: dict[type, list[tuple[Callable[[Any], Awaitable[None]], bool]]] = {}

    def on(self, kind: type[S], listener: Callable[[S], None], *, required: bool = False) -> None:
        """Call `listener(signal)` for every signal of type `kind`."""
        self._listeners.setdefault(kind, []).append((listener, required))

    def on_awaited(
        self, kind: type[S], listener: Callable[[S], Awaitable[None]], *, required: bool = False
    ) -> None:
        """Await `listener(signal)` for every signal of type `kind` emitted with `gather`."""
        self._awaited.setdefault(kind, []).append((listener, required))

    def emit(self, signal: object) -> None:
        """Tell the listeners of `signal`'s type, in registration order."""
        failed: BaseException | None = None
        for listener, required in self._listeners.get(type(signal), ()):
            try:
                listener(signal)
            except Exception as exc:
                failed = _noted(signal, exc, required, failed)
        if failed is not None:
            raise failed

    async def gather(self, signal: object) -> None:
        """Tell the listeners of `signal`'s type, awaiting each awaited one in turn."""
        failed: BaseException | None = None
        try:
            self.emit(signal)
        except Exception as exc:
            failed = exc
        for listener, required in self._awaited.get(type(signal), ()):
            try:
                await listener(signal)
            except Exception as exc:
                failed = _noted(signal, exc, required, failed)
        if failed is not None:
            raise failed


def _noted(
    signal: object, exc: BaseException, required: bool, failed: BaseException | None
) -> BaseException | None:
    # Log a listener's error; the first error of a required listener is raised at the end.
    log.error("a listener of %s failed", type(signal).__name__, exc_info=exc)
    return exc if required and failed is None else failed
