"""The engine: inbox, one customer at a time, the turn pipeline, outbox; and what a feature
needs to plug into it (the builder, the pipeline's slots and the `Turn`, the signals)."""

from __future__ import annotations

from bot.engine.builder import EngineBuilder, Feature
from bot.engine.engine import Engine
from bot.engine.outbox import Outbox, backoff
from bot.engine.pipeline import Next, Pipeline, Slot, Stage, StatusChanged, Turn, Wrapper
from bot.engine.signals import Signals

__all__ = [
    "Engine",
    "EngineBuilder",
    "Feature",
    "Next",
    "Outbox",
    "Pipeline",
    "Signals",
    "Slot",
    "Stage",
    "StatusChanged",
    "Turn",
    "Wrapper",
    "backoff",
]
