"""The web chat's entry in the channel registry: always on, no settings, no emulator."""

from __future__ import annotations

from adapters.registry import Channel

__all__ = ["CHANNEL"]

CHANNEL = Channel(name="web", called="the web chat")
"""The web chat at /chat, which every Baton serves."""
