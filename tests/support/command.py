"""The `baton` command as a user runs it: the installed console script, in a folder of theirs,
with no BATON_* variables or PYTHONPATH from the test run."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["BATON", "user_env"]

BATON = str(Path(sys.executable).with_name("baton"))
"""The `baton` console script of the interpreter running the tests."""


def user_env(values: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without BATON_*, PYTHONPATH and pytest's own variables, plus `values`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATON_", "PYTEST_")) and k != "PYTHONPATH"
    }
    env.update(values or {})
    return env
