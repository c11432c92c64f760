"""Each package's __init__ is its public door; what it exports is deliberate."""

from __future__ import annotations

import importlib

import pytest


def _isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize(
    "package",
    [
        "dialogs",
        "storage",
        "adapters",
        "adapters.telegram",
        "adapters.twilio",
        "adapters.slack",
        "adapters.web",
        "adapters.emulators",
        "adapters.registry",
        "adapters.body",
        "bot.testing",
        "bot.sandbox",
    ],
)
def test_all_names_exist_and_are_documented(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported == sorted(exported, key=_isort_style)
    for name in exported:
        value = getattr(module, name)
        assert getattr(value, "__doc__", None), f"{package}.{name} has no docstring"


def test_the_flow_api_exports() -> None:
    import dialogs

    assert {
        "App",
        "Choice",
        "Context",
        "Invalid",
        "flow",
        "Command",
        "Keyword",
        "Regex",
        "Button",
        "Prompt",
    } <= set(dialogs.__all__)
