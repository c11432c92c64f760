"""Baton, the application: settings, the engine, the web app and the `baton` command."""

from __future__ import annotations

__all__: list[str] = []
