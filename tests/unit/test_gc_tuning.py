"""The collector tuning `baton run` applies after start-up (bot.gc_tuning)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.gc_tuning import THRESHOLDS, tune_for_serving


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_later_cyclic_garbage_is_still_collected() -> None:
    start_up = _Cycle()
    tune_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == THRESHOLDS
    assert not any(obj is start_up for obj in gc.get_objects())  # skipped by collections

    later = _Cycle()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None
