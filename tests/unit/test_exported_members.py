"""Each package's __init__ is its public door; what it exports is deliberate."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["dialogs", "storage", "adapters"])
def test_all_names_exist_and_are_documented(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported == sorted(exported)
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
