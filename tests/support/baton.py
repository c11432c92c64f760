"""Run a real Baton (aiohttp server on loopback, real storage) inside a test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.base import Adapter
from adapters.web import LocalAdapter
from bot.app import ADAPTERS, ENGINE, STORE, create_app
from bot.engine import Engine
from bot.settings import Settings
from dialogs import App
from storage import Store


@dataclass
class Running:
    """A running Baton: its HTTP client, web app, engine and store."""

    client: TestClient[web.Request, web.Application]
    app: web.Application

    @property
    def engine(self) -> Engine:
        return self.app[ENGINE]

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def web(self) -> LocalAdapter:
        adapter = self.app[ADAPTERS]["web"]
        assert isinstance(adapter, LocalAdapter)
        return adapter

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))


@asynccontextmanager
async def running_baton(
    database_url: str, app: App, *, adapters: Sequence[Adapter] = (), **settings: object
) -> AsyncIterator[Running]:
    """Start Baton on a loopback port; stop it (gracefully) on exit."""
    config = Settings(database_url=database_url, **settings)  # type: ignore[arg-type]
    web_app = await create_app(config, app, adapters=adapters)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(web_app))
    await client.start_server()
    try:
        yield Running(client, web_app)
    finally:
        await client.close()
