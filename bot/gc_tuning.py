"""The garbage collector, tuned for a long-running server.

Python's collector is generational: a full collection walks every container object the process
holds. A Baton server holds a large, stable graph from start-up on (aiogram's and pydantic's
models, SQLAlchemy's tables and compiled statements, the flows), and with the default thresholds
a full collection over it ran about once a second under load and paused the event loop for
100-600 ms (measured by the benchmark's `--what-if gc-report`): every reply in flight waited.

`tune_for_serving` runs once start-up is done. It collects what start-up left behind, then
freezes the survivors (`gc.freeze`): they move to a permanent generation that later
collections skip. It also raises the young-generation threshold, so short-lived objects are
collected in fewer, still short, passes. Reference counting frees most objects as before; only
cyclic garbage waits for the collector, and it is still collected.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("baton.gc")

__all__ = ["THRESHOLDS", "tune_for_serving"]

THRESHOLDS = (20_000, 20, 20)
"""Allocations before a young collection, and young (then middle) collections before the next
older one. Python's defaults are (700, 10, 10)."""


def tune_for_serving() -> None:
    """Freeze the objects start-up made and collect less often. Call once, after start-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.debug(
        "garbage collector: %d objects frozen, thresholds %s", gc.get_freeze_count(), THRESHOLDS
    )
