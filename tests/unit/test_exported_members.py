"""Each package's __init__ is its public door: it exports exactly the names it documents.

In the style of httpx's tests/test_exported_members.py: whatever a package's `__init__` puts
in its namespace (bar submodules and `from __future__ import annotations`) is in `__all__`,
each exported name has a docstring, and the flow API's names are listed here, so adding or
dropping one is a decision a reviewer sees.
"""

from __future__ import annotations
import __future__

import importlib
import types

import pytest

DOORS = [
    "adapters",
    "adapters.emulators",
    "adapters.slack",
    "adapters.telegram",
    "adapters.twilio",
    "adapters.web",
    "adapters.whatsapp",
    "bot",
    "bot.engine",
    "dialogs",
    "dialogs.builtin",
    "storage",
]
"""Packages whose `__init__` only re-exports."""
PACKAGES = [
    *DOORS,
    "adapters.body",
    "adapters.registry",
    "bot.console",
    "bot.console.api",
    "bot.sandbox",
    "bot.testing",
    "bot.understanding",
]
"""All packages with an `__all__`; bot.console's `__init__` also holds `mount_console`, so it
imports names for its own annotations."""

FLOW_API = {
    # writing flows
    "Answer",
    "App",
    "Button",
    "Choice",
    "Classifier",
    "Command",
    "Context",
    "Flow",
    "FlowError",
    "HUMAN_CHOICE",
    "Intent",
    "Interruptions",
    "Invalid",
    "Keyword",
    "Media",
    "Memory",
    "MissingAwait",
    "Prompt",
    "Regex",
    "RegistrationError",
    "ReplayMismatch",
    "Texts",
    "Trigger",
    "Event",
    "flow",
    # media answers (dialogs.media)
    "Attachment",
    "Contact",
    "Document",
    "Location",
    "Photo",
    "allowed",
    # what the engine calls: the runtime (dialogs.runtime)
    # what the engine calls: the runtime (dialogs.runtime, dialogs.wakes)
    "Outcome",
    "Timer",
    "Wake",
    "WakeOutcome",
    "pending_prompt",
    "run_turn",
    "run_wake",
}


def public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and value is not __future__.annotations
    }


@pytest.mark.parametrize("package", DOORS)
def test_all_imports_are_exported(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(public_names(module))
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_exported_names_are_documented(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__, f"{package} has no docstring"
    for name in module.__all__:
        value = getattr(module, name)
        if not callable(value):
            continue  # a constant: documented by the docstring under its assignment
        assert getattr(value, "__doc__", None), f"{package}.{name} has no docstring"


def test_the_flow_api_exports() -> None:
    import dialogs

    assert set(dialogs.__all__) == FLOW_API


def test_the_runtime_is_exported_from_dialogs() -> None:
    import dialogs
    import dialogs.runtime

    for name in dialogs.runtime.__all__:
        assert getattr(dialogs, name) is getattr(dialogs.runtime, name)
