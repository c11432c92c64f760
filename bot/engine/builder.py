"""Building an engine: its parts, the pipeline of a turn, and the features plugged into it.

A feature (handoff, linking, and those an app adds) is an object with three methods:

```python
class MyFeature:
    def install(self, builder: EngineBuilder) -> None:
        builder.stage(Slot.INTERCEPT, self.intercept)       # async def intercept(turn)
        builder.around(self.timed)                          # async def timed(turn, run)
        builder.on(TurnCommitted, self.committed)           # a signal listener
        builder.gate(self.gate)                             # sees each send (bot.engine.outbox)

    async def start(self, engine: Engine) -> None: ...      # background work, once running
    async def stop(self) -> None: ...
```

`install` runs once, while the engine is built; nothing is assigned to another object
after that. The engine starts features in the order given and stops them in reverse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from adapters.base import Adapter
from bot.engine.outbox import Outbox, SendGate
from bot.engine.pipeline import Pipeline, Slot, Stage, Wrapper
from bot.engine.signals import Signals
from bot.engine.states import CustomerStates
from bot.engine.turns import CoreStages, TurnRunner
from dialogs import App
from storage import Store

if TYPE_CHECKING:
    from bot.engine.engine import Engine

__all__ = ["EngineBuilder", "Feature"]

S = TypeVar("S")


class Feature(Protocol):
    """A package that plugs into the engine (see the module docstring)."""

    def install(self, builder: EngineBuilder) -> None:
        """Register stages and listeners."""
        ...

    async def start(self, engine: Engine) -> None:
        """Start background work (the engine is built and about to handle messages)."""
        ...

    async def stop(self) -> None:
        """Stop background work."""
        ...


class EngineBuilder:
    """Collects the engine's parts, stages and listeners; `build` makes the `Engine`."""

    def __init__(
        self,
        store: Store,
        app: App,
        adapters: Mapping[str, Adapter],
        *,
        send_adapters: Mapping[str, Adapter] | None = None,
        outbox_max_attempts: int = 8,
        outbox_base_delay: float = 1.0,
        outbox_max_delay: float = 600.0,
        question_expiry_hours: float | None = None,
    ) -> None:
        self.store = store
        self.app = app
        self.adapters = dict(adapters)
        self.signals = Signals()
        self.states = CustomerStates(store, self.signals)
        self.outbox = Outbox(
            store,
            {**self.adapters, **send_adapters} if send_adapters else self.adapters,
            self.signals,
            max_attempts=outbox_max_attempts,
            base_delay=outbox_base_delay,
            max_delay=outbox_max_delay,
        )
        core = CoreStages(store, self.states, question_expiry_hours=question_expiry_hours)
        self.core = core
        """The engine's own stages (identify, control, replay, commit)."""
        self._stages: list[tuple[Slot, Stage]] = [
            (Slot.IDENTIFY, core.identify),
            (Slot.CONTROL, core.control),
            (Slot.REPLAY, core.replay),
            (Slot.COMMIT, core.commit),
        ]
        self._wrappers: list[Wrapper] = []
        self._features: list[Feature] = []

    def stage(self, slot: Slot, stage: Stage) -> None:
        """Run `stage` in every turn, in `slot` (after the stages already in that slot)."""
        self._stages.append((slot, stage))

    def around(self, wrapper: Wrapper) -> None:
        """Run every turn's stages inside `wrapper` (wrappers registered first are outermost)."""
        self._wrappers.append(wrapper)

    def on(self, kind: type[S], listener: Callable[[S], None], *, required: bool = False) -> None:
        """Call `listener` for every signal of type `kind` (see `bot.engine.signals`)."""
        self.signals.on(kind, listener, required=required)

    def on_awaited(
        self, kind: type[S], listener: Callable[[S], Awaitable[None]], *, required: bool = False
    ) -> None:
        """Await `listener` for every signal of type `kind` that is awaited when emitted."""
        self.signals.on_awaited(kind, listener, required=required)

    def gate(self, gate: SendGate) -> None:
        """Let `gate` hold or refuse every outbox row before each attempt (a throttle, a
        last check); see `bot.engine.outbox`."""
        self.outbox.add_gate(gate)

    def build(
        self,
        features: Sequence[Feature] = (),
        *,
        sweep_interval: float = 5.0,
        max_failures: int = 3,
    ) -> Engine:
        """Install `features` and make the engine."""
        from bot.engine.engine import Engine

        for feature in features:
            feature.install(self)
            self._features.append(feature)
        pipeline = Pipeline(self._stages, self._wrappers)
        runner = TurnRunner(
            pipeline,
            store=self.store,
            app=self.app,
            states=self.states,
            outbox=self.outbox,
            signals=self.signals,
        )
        return Engine(
            self,
            runner,
            self._features,
            sweep_interval=sweep_interval,
            max_failures=max_failures,
        )
