"""The event loop a Baton server runs on: uvloop where it is installed, asyncio's own otherwise.

Every message costs the event loop a webhook read, a few task switches, a database commit and a
platform call. uvloop (libuv under asyncio's interface) does the loop's share of that work in C:
in the benchmark (`tests/benchmarks/`) a Baton server used 10-16% less CPU per message on it.
It is a dependency wherever it builds (not on Windows). `BATON_EVENT_LOOP` chooses:

- `auto` (the default): uvloop if it can be imported, else asyncio's loop;
- `uvloop`: uvloop, or a clear error at start-up if it is not installed;
- `asyncio`: asyncio's own loop, e.g. to rule the loop out when chasing a problem.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from bot.settings import SettingsError

__all__ = ["loop_name", "new_event_loop", "resolve", "run"]

T = TypeVar("T")


def resolve(choice: str = "auto") -> Literal["uvloop", "asyncio"]:
    """The loop `choice` stands for here: "uvloop" or "asyncio" (see the module's docstring).

    Raises:
        SettingsError: `choice` is not a choice, or is "uvloop" and uvloop is not installed.
    """
    if choice not in ("auto", "uvloop", "asyncio"):
        raise SettingsError(
            f"BATON_EVENT_LOOP={choice!r} is not one of 'auto', 'uvloop', 'asyncio'"
        )
    if choice == "asyncio":
        return "asyncio"
    try:
        importlib.import_module("uvloop")
    except ImportError as exc:  # not installed, or installed and broken
        if choice == "uvloop":
            raise SettingsError(
                f"BATON_EVENT_LOOP=uvloop, but uvloop cannot be imported ({exc}): "
                "`pip install uvloop`, or set BATON_EVENT_LOOP=auto to use asyncio's loop "
                "without it"
            ) from None
        return "asyncio"
    return "uvloop"


def new_event_loop(choice: str = "auto") -> asyncio.AbstractEventLoop:
    """A new event loop of the kind `choice` stands for (see `resolve`)."""
    if resolve(choice) == "asyncio":
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = importlib.import_module("uvloop").new_event_loop()
    return loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """ "uvloop" or "asyncio": what `loop` is, for a log line."""
    return "uvloop" if type(loop).__module__.partition(".")[0] == "uvloop" else "asyncio"


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """`asyncio.run(main)` on a loop of the kind `choice` stands for (see `resolve`)."""
    try:
        kind = resolve(choice)
    except SettingsError:
        main.close()  # never started: no "never awaited" warning on top of the error
        raise
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(main)
