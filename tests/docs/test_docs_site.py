"""The docs site builds with `mkdocs build --strict`, and its search (built with the site, run
offline in the browser) has an entry for every setting, every command and every API route."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import _parser
from bot.console.openapi import document
from bot.reference import _anchor, _subcommands
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def search_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    site = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr
    index = json.loads((site / "search" / "search_index.json").read_text())
    return {doc["location"]: doc for doc in index["docs"]}


def test_search_finds_every_setting(search_index: dict[str, dict[str, Any]]) -> None:
    for name in Settings.model_fields:
        entry = search_index[f"reference/settings/#baton_{name}"]
        assert f"BATON_{name.upper()}" in entry["title"]
        assert entry["text"]


def test_search_finds_every_command(search_index: dict[str, dict[str, Any]]) -> None:
    names = [name for name, _ in _subcommands(_parser())]
    assert {"run", "shell", "migrate", "new", "agent add"} <= set(names)
    for name in names:
        entry = search_index["reference/cli/#baton-" + name.replace(" ", "-")]
        assert f"baton {name}" in entry["title"]


def test_search_finds_every_api_route(search_index: dict[str, dict[str, Any]]) -> None:
    for path, operations in document()["paths"].items():
        for method in operations:
            entry = search_index[f"reference/http-api/#{_anchor(method, path)}"]
            assert f"{method.upper()} {path}" in entry["title"]


def test_search_finds_the_flow_api_and_the_test_kit(
    search_index: dict[str, dict[str, Any]],
) -> None:
    for symbol in ("dialogs.Context", "dialogs.App", "dialogs.flow", "dialogs.Choice"):
        assert f"reference/flow-api/#{symbol}" in search_index
    for symbol in ("bot.testing.ChatScript", "bot.testing.chat_on"):
        assert f"reference/test-kit/#{symbol}" in search_index
