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


def on_config(config: Any) -> Any:
    """Read the code's `Example:` docstring sections as code examples.

    Baton's docstrings (Google style) write `Example:` over `>>>` lines; griffe reads only
    `Examples:` as examples and would render the singular as prose, where `>>>` turns into
    nested quotes. The build stops, rather than render that, if griffe changes this table.
    """
    try:
        from griffe import DocstringSectionKind
        from griffe._internal.docstrings import google
    except ImportError as exc:
        raise PluginError(
            f"griffe changed its docstring parser ({exc}); see docs/hooks.py"
        ) from exc
    sections = getattr(google, "_section_kind", None)
    if not isinstance(sections, dict) or "examples" not in sections:
        raise PluginError("griffe changed its Google section table; see docs/hooks.py")
    sections.setdefault("example", DocstringSectionKind.examples)
    return config
