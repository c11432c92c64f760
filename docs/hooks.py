"""MkDocs hooks: the build fails when a generated reference page differs from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError


def on_pre_build(config: Any) -> None:
    """Refuse to build docs whose settings, CLI or HTTP reference drifted from the code."""
    from bot.reference import stale_pages

    stale = stale_pages(Path(config["docs_dir"]) / "reference")
    if stale:
        names = ", ".join(f"docs/reference/{name}" for name in stale)
        raise PluginError(f"{names} out of date with the code: run python -m bot.reference")
