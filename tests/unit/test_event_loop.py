"""The event loop `baton run` and the send processes run on (bot.event_loop)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.event_loop import new_event_loop, resolve, run
from bot.settings import SettingsError


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_by_default_baton_runs_on_uvloop_which_it_installs() -> None:
    assert resolve() == "uvloop"
    assert run(_loop_module()).startswith("uvloop")


def test_asyncio_s_own_loop_when_asked_for() -> None:
    loop = new_event_loop("asyncio")
    try:
        assert loop.run_until_complete(_loop_module()).startswith("asyncio")
    finally:
        loop.close()


def test_without_uvloop_auto_falls_back_and_asking_for_it_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    assert run(_loop_module(), "auto").startswith("asyncio")
    with pytest.raises(SettingsError, match=r"BATON_EVENT_LOOP=uvloop.*pip install uvloop"):
        run(_loop_module(), "uvloop")


def test_an_unknown_loop_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="BATON_EVENT_LOOP='twisted'"):
        new_event_loop("twisted")
