"""Which platform channels to run, from the settings (a channel is on when its credentials
are set)."""

from __future__ import annotations

from adapters.base import Adapter
from bot.settings import Settings

__all__ = ["channel_adapters"]


async def channel_adapters(settings: Settings) -> list[Adapter]:
    """The platform adapters whose credentials are configured."""
    return []
