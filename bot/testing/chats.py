"""Chats on emulated platforms: `chat_on` one channel, `chats_on` several on one Baton.

The channels are those of the channel registry that have an emulator; each chat's emulator,
adapter and customer side come from the channel's `CustomerView`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from adapters.emulators import CustomerView
from adapters.registry import channel as registered
from adapters.registry import emulated
from bot.testing.mailbox import Mailbox
from bot.testing.script import ChatScript
from bot.testing.server import serving
from dialogs import App

__all__ = ["CHANNELS", "chat_on", "chats_on"]

CHANNELS = emulated()
"""The platform channels `chat_on` can emulate, as named in the webhook paths."""

_TEST_SETTINGS: dict[str, object] = {"outbox_base_delay": 0.05, "outbox_max_delay": 0.5}
"""Retry quickly: a fault injected at the emulator should not slow a test down by seconds."""


@asynccontextmanager
async def chat_on(
    channel: str,
    app: App,
    *,
    database_url: str,
    customer: str | None = None,
    name: str = "Ada",
    **settings: object,
) -> AsyncIterator[ChatScript]:
    """Run `app` on one platform channel against its emulator; yield the customer's script.

    The emulator and Baton listen on loopback ports; the adapter is the real one with the
    platform's official SDK, pointed at the emulator. Webhooks are signed as the platform signs
    them (Telegram's secret token, registered with setWebhook; Twilio's signature over Baton's
    URL; Slack's v0 signature).

    Args:
        channel: "telegram", "twilio" or "slack".
        app: The bot to run.
        database_url: Its database, e.g. "sqlite+aiosqlite:///./test.db" (created when empty).
        customer: The customer's platform id; a default per channel (Telegram user 4242,
            +15551230001, Slack user U0CUST001) when None.
        name: The customer's first name, where the platform sends one (Telegram).
        **settings: Other `Settings` fields; retries are fast by default
            (`outbox_base_delay=0.05`).

    Example:
        >>> async with chat_on("slack", app, database_url="sqlite+aiosqlite:///t.db") as chat:
        ...     await chat.send("hi")
        ...     await chat.expect("Hi! What can I do for you?")
    """
    view = _view(channel)
    async with (
        view.emulator.run() as api_url,
        serving(
            database_url,
            app,
            lambda base_url: [view.adapter(api_url, base_url)],
            _TEST_SETTINGS | settings,
        ) as baton,
    ):
        mailbox = Mailbox(view)
        yield ChatScript(view, baton, mailbox, customer or view.default_customer, name=name)


@asynccontextmanager
async def chats_on(
    channels: Sequence[str],
    app: App,
    *,
    database_url: str,
    customers: Mapping[str, str] | None = None,
    name: str = "Ada",
    **settings: object,
) -> AsyncIterator[dict[str, ChatScript]]:
    """Like `chat_on`, with several channels on one Baton: the same person (or several)
    writing on Telegram, SMS and Slack. Yields one script per channel.

    Example:
        >>> async with chats_on(["telegram", "twilio"], app, database_url=url) as chats:
        ...     await chats["telegram"].send("hi")
        ...     await chats["twilio"].send("hi")
    """
    views = {channel: _view(channel) for channel in channels}
    async with AsyncExitStack() as stack:
        api_urls = {
            channel: await stack.enter_async_context(view.emulator.run())
            for channel, view in views.items()
        }
        baton = await stack.enter_async_context(
            serving(
                database_url,
                app,
                lambda base_url: [v.adapter(api_urls[c], base_url) for c, v in views.items()],
                _TEST_SETTINGS | settings,
            )
        )
        yield {
            channel: ChatScript(
                view,
                baton,
                Mailbox(view),
                (customers or {}).get(channel) or view.default_customer,
                name=name,
            )
            for channel, view in views.items()
        }


def _view(channel: str) -> CustomerView:
    make = registered(channel).customer_view if channel in CHANNELS else None
    if make is None:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    return make()
