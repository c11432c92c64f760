"""The channel registry: every channel Baton knows, described once.

A channel is one package under `adapters/` (parse, render, adapter) plus one `Channel`
descriptor, listed here (or given to `register` by a plug-in). Everything that names channels
reads this registry: the settings (which channels are configured, and their adapters), the
sandbox's panes, the test kit's per-channel kits, and the channel names customers read.

Example:
    >>> from adapters.registry import channel, channel_name, channels
    >>> [c.name for c in channels() if c.sandbox]
    ['telegram', 'twilio', 'slack']
    >>> channel_name("twilio")
    'SMS'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.base import Adapter
    from adapters.emulators.customer import CustomerView

__all__ = [
    "Channel",
    "channel",
    "channel_name",
    "channels",
    "configured",
    "emulated",
    "register",
    "settings_adapters",
]


@dataclass(frozen=True, slots=True)
class Channel:
    """What Baton needs to know about one channel."""

    name: str
    """As in the webhook paths and `Inbound.channel`: "telegram", "twilio", "slack", "web"."""
    called: str
    """How customers call it, in a sentence: "Telegram", "SMS", "Slack", "the web chat"."""
    sandbox: bool = False
    """Whether the sandbox has a pane for it (and the test kit a kit): it has an emulator."""
    credentials: Sequence[str] = ()
    """The settings (fields of `bot.settings.Settings`) whose presence turns it on."""
    from_settings: Callable[[Any], Adapter] | None = None
    """Builds its adapter from the settings when any credential is set. Raises `ValueError`
    naming the `BATON_*` variable to fix. None: the channel is not configured by settings."""
    customer_view: Callable[..., CustomerView] | None = None
    """Makes its emulator and the emulator's customer view (`sandbox=True` for the sandbox's
    naming). None when there is no emulator."""
    enabled: Callable[[Any], bool] | None = None
    """Whether `settings` turn the channel on, for a channel that shares its credentials with
    another and is on only with a setting of its own (e.g. a second sender number). None: on
    when any of `credentials` is set (`configured`: all of them)."""


_BUILTIN = (
    "adapters.telegram.channel",
    "adapters.twilio.channel",
    "adapters.slack.channel",
    "adapters.whatsapp.channel",
    "adapters.web.channel",
)
_REGISTERED: dict[str, Channel] = {}
_loaded = False


def register(descriptor: Channel) -> Channel:
    """Add a channel (a plug-in's); it is listed after the built-in ones.

    Raises:
        ValueError: A channel of that name is already registered.
    """
    _load()
    if descriptor.name in _REGISTERED:
        raise ValueError(f"a channel named {descriptor.name!r} is already registered")
    _REGISTERED[descriptor.name] = descriptor
    return descriptor


def channels() -> tuple[Channel, ...]:
    """Every registered channel, built-in ones first, in registration order."""
    _load()
    return tuple(_REGISTERED.values())


def channel(name: str) -> Channel:
    """The channel called `name`.

    Raises:
        KeyError: No such channel; the message lists the known ones.
    """
    _load()
    found = _REGISTERED.get(name)
    if found is None:
        raise KeyError(f"unknown channel {name!r}: use one of {', '.join(_REGISTERED)}")
    return found


def channel_name(name: str) -> str:
    """How customers call the channel `name` ("twilio" -> "SMS"); `name` itself if unknown."""
    _load()
    found = _REGISTERED.get(name)
    return found.called if found is not None else name


def emulated() -> tuple[str, ...]:
    """The channels with an emulator: the sandbox's panes and the test kit's channels."""
    return tuple(c.name for c in channels() if c.sandbox and c.customer_view is not None)


def configured(settings: Any) -> list[str]:
    """The channels whose credentials are all set in `settings`."""
    return [
        c.name
        for c in channels()
        if c.credentials
        and all(getattr(settings, field, None) for field in c.credentials)
        and (c.enabled is None or c.enabled(settings))
    ]


def settings_adapters(settings: Any) -> list[Adapter]:
    """The adapters of every channel with any credential set in `settings`.

    Raises:
        ValueError: A channel is half configured or a credential is malformed; the message
            names the `BATON_*` variable.
    """
    adapters: list[Adapter] = []
    for c in channels():
        if c.from_settings is None:
            continue
        if c.enabled is not None:
            if c.enabled(settings):
                adapters.append(c.from_settings(settings))
        elif any(getattr(settings, field, None) for field in c.credentials):
            adapters.append(c.from_settings(settings))
    return adapters


def _load() -> None:
    global _loaded  # noqa: PLW0603 - the registry is loaded once, on first use
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN:
        descriptor: Channel = importlib.import_module(module).CHANNEL
        _REGISTERED.setdefault(descriptor.name, descriptor)
