"""Which platform channels to run, from the settings and the channel registry (a channel is on
when its credentials are set), and what customers call each channel."""

from __future__ import annotations

from adapters.base import Adapter
from adapters.registry import channel_name, settings_adapters
from bot.settings import Settings, SettingsError

__all__ = ["channel_adapters", "channel_name", "sandbox_wanted"]


def sandbox_wanted(settings: Settings) -> bool:
    """Whether `baton run` serves the sandbox at /sandbox: BATON_SANDBOX when it is set,
    otherwise when no platform credentials are set."""
    if settings.sandbox is not None:
        return settings.sandbox
    return not settings.channels_configured


async def channel_adapters(settings: Settings) -> list[Adapter]:
    """The adapters of the registered channels whose credentials are configured.

    Raises:
        SettingsError: a channel is half configured; the message names the variable.
    """
    try:
        return settings_adapters(settings)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
