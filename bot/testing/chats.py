"""Chats on emulated platforms: `chat_on` one channel, `chats_on` several on one Baton.

The channels are those of the channel registry that have an emulator; each chat's emulator,
adapter and customer side come from the channel's `CustomerView`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from adapters.emulators import CustomerView
from adapters.registry import channel as registered
from adapters.registry import emulated
from bot.testing.mailbox import Mailbox
from bot.testing.script import ChatScript
from bot.testing.server import Running, serving
from dialogs import App

__all__ = ["CHANNELS", "Restartable", "chat_on", "chat_with_restarts", "chats_on"]

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
            (`outbox_base_delay=0.05`); and `features`, a list of features plugged into the
            engine after the built-in ones (e.g. event `Listeners`).

    Example:
        >>> async with chat_on("slack", app, database_url="sqlite+aiosqlite:///t.db") as chat:
        ...     await chat.send("hi")
        ...     await chat.expect("Hi! What can I do for you?")
    """
    view = _view(channel)
    options = dict(settings)
    features = options.pop("features", ())
    async with (
        view.emulator.run() as api_url,
        serving(
            database_url,
            app,
            lambda base_url: [view.adapter(api_url, base_url)],
            _TEST_SETTINGS | options,
            features,  # type: ignore[arg-type]
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


class Restartable:
    """A chat whose Baton can be stopped and started again on the same database, while the
    platform's emulator (and so the customer's chat) goes on: a deploy, as the customer
    sees it. Made by `chat_with_restarts`."""

    def __init__(
        self,
        view: CustomerView,
        start: Callable[[], AbstractAsyncContextManager[Running]],
        customer: str,
        name: str,
    ) -> None:
        self._view = view
        self._start = start
        self._customer = customer
        self._name = name
        self._mailbox = Mailbox(view)
        self._stack: AsyncExitStack | None = None
        self.chat: ChatScript | None = None

    async def _up(self) -> ChatScript:
        stack = AsyncExitStack()
        baton = await stack.enter_async_context(self._start())
        self._stack = stack
        self.chat = ChatScript(self._view, baton, self._mailbox, self._customer, name=self._name)
        return self.chat

    async def _down(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def restart(self) -> ChatScript:
        """Stop Baton gracefully and start it again; the customer's script on the new one."""
        await self._down()
        return await self._up()


@asynccontextmanager
async def chat_with_restarts(
    channel: str,
    app: App,
    *,
    database_url: str,
    customer: str | None = None,
    name: str = "Ada",
    **settings: object,
) -> AsyncIterator[Restartable]:
    """Like `chat_on`, with `restart()` to stop and start Baton again mid-script.

    Example:
        >>> async with chat_with_restarts("twilio", app, database_url=url) as session:
        ...     await session.chat.send("hi")
        ...     chat = await session.restart()
    """
    view = _view(channel)
    options = dict(settings)
    features = options.pop("features", ())
    async with view.emulator.run() as api_url:

        def start() -> AbstractAsyncContextManager[Running]:
            return serving(
                database_url,
                app,
                lambda base_url: [view.adapter(api_url, base_url)],
                _TEST_SETTINGS | options,
                features,  # type: ignore[arg-type]
            )

        session = Restartable(view, start, customer or view.default_customer, name)
        await session._up()
        try:
            yield session
        finally:
            await session._down()


def _view(channel: str) -> CustomerView:
    make = registered(channel).customer_view if channel in CHANNELS else None
    if make is None:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    return make()
