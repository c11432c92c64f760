"""A real Baton on a loopback port, for tests: storage, engine, outbox and web app.

`running_baton` runs one with the given adapters; `serving` does the same with adapters made
once the URL Baton listens on is known (the test kit's chats register webhooks there).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from adapters.base import Adapter
from adapters.web import LocalAdapter
from bot.app import ADAPTERS, ENGINE, STORE, create_app
from bot.engine import Engine
from bot.engine.builder import Feature
from bot.settings import Settings
from dialogs import App
from storage import Store

__all__ = ["Running", "running_baton", "serving"]


@dataclass
class Running:
    """A Baton serving on a loopback port: its web app, engine and store.

    Example:
        >>> async with running_baton(url, app) as baton:
        ...     found = await baton.store.identity("telegram", "4242")
    """

    app: web.Application
    base_url: str
    """Where it listens, e.g. "http://127.0.0.1:54321"."""

    @property
    def engine(self) -> Engine:
        """The engine (inbox, lanes, outbox); `await engine.idle()` waits for quiet."""
        return self.app[ENGINE]

    @property
    def store(self) -> Store:
        """The store, for reading what was recorded."""
        return self.app[STORE]

    @property
    def web(self) -> LocalAdapter:
        """The local "web" channel every Baton has."""
        adapter = self.app[ADAPTERS]["web"]
        assert isinstance(adapter, LocalAdapter)
        return adapter

    def url(self, path: str) -> str:
        """The full URL of `path` on this Baton."""
        return self.base_url + path

    async def advance(self, delta: timedelta | float) -> None:
        """Move this Baton's clock forward (no real waiting) and do what falls due: timers
        wake, delayed flows start; returns once the turns they caused are committed.

        Example:
            >>> await baton.advance(timedelta(days=2))     # the flow's ctx.sleep is over
        """
        from bot.followup import Followup

        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        core = self.engine.core
        base = core.clock
        core.clock = lambda: base() + seconds
        await self.settle()
        await self.engine.feature(Followup).tick()
        await self.settle()

    async def settle(self) -> None:
        """Wait until events are delivered and the turns they cause are committed (those
        due now; retries with a back-off are not waited for)."""
        from bot.followup import Followup

        followup = self.engine.feature(Followup)
        for _ in range(50):
            await self.engine.idle()
            await followup.tick()
            await self.engine.idle()
            if not await followup.busy():
                return


@asynccontextmanager
async def running_baton(
    database_url: str,
    app: App,
    *,
    adapters: Sequence[Adapter] = (),
    **settings: object,
) -> AsyncIterator[Running]:
    """Run Baton on a loopback port while the block runs; stop it gracefully afterwards.

    Args:
        database_url: An empty or existing database; the schema is created when empty.
        app: The bot.
        adapters: Platform channels to serve besides the local web channel.
        **settings: Other `Settings` fields, e.g. `outbox_base_delay=0.05`; and `features`,
            a list of features plugged into the engine after the built-in ones (see
            `bot.engine.builder`).

    Example:
        >>> async with running_baton("sqlite+aiosqlite:///t.db", app) as baton:
        ...     await baton.engine.receive([Inbound("web", "m1", "c1", text="hi")])
    """
    options = dict(settings)
    features = options.pop("features", ())
    if not isinstance(features, (list, tuple)):
        raise TypeError("features must be a list of engine features")
    async with serving(database_url, app, lambda _: adapters, options, features) as baton:
        yield baton


@asynccontextmanager
async def serving(
    database_url: str,
    app: App,
    adapters: Callable[[str], Sequence[Adapter]],
    settings: Mapping[str, object],
    features: Sequence[Feature] = (),
) -> AsyncIterator[Running]:
    """`running_baton`, with adapters made once the URL Baton will listen on is known.

    The socket is bound before the app starts, so the Telegram adapter can register its
    webhook at the emulator while Baton starts, as it does with Telegram.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        # A test process starts Baton many times: freezing the collector's view of it each
        # time would keep every earlier test's cyclic garbage alive (see bot.gc_tuning).
        options = {"gc_freeze": False, **settings}
        config = Settings(database_url=database_url, **options)  # type: ignore[arg-type]
        web_app = await create_app(config, app, adapters=adapters(base_url), features=features)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
    except BaseException:
        sock.close()
        raise
    try:
        await web.SockSite(runner, sock).start()
        yield Running(web_app, base_url)
    finally:
        await runner.cleanup()
        sock.close()
