"""The engine: inbox, one customer at a time, turns, outbox."""

from __future__ import annotations

from bot.engine.engine import Engine
from bot.engine.outbox import Outbox, backoff

__all__ = ["Engine", "Outbox", "backoff"]
