"""The console's shared state: settings, the handoff service and the live hub.

The console is a feature of the engine (see `bot.engine.builder`): it listens for changes
people make (`ConversationChanged`) to wake the live hub, and starts and stops with the
engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.auth import LoginThrottle
from bot.console.live import Hub
from bot.engine.signals import ConversationChanged
from bot.handoff import HandoffConfig, Handoffs
from bot.linking import Linking
from bot.settings import Settings
from dialogs import App
from storage import ConsoleStore

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder

__all__ = ["CONSOLE", "Console"]


class Console:
    """Everything the console's routes share; started and stopped with the engine."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings = settings
        self.app = app
        self.hub = Hub(self)
        self.throttle = LoginThrottle()
        self._engine: Engine | None = None

    def install(self, builder: EngineBuilder) -> None:
        """Wake the live hub whenever people or turns change what agents see."""
        builder.on(ConversationChanged, lambda _: self.hub.kick())

    @property
    def engine(self) -> Engine:
        """The running engine."""
        if self._engine is None:
            raise web.HTTPServiceUnavailable(text="Baton is starting")
        return self._engine

    @property
    def handoffs(self) -> Handoffs:
        """The handoff service (raises before the application started)."""
        return self.engine.feature(Handoffs)

    @property
    def linking(self) -> Linking:
        """Linking identities, for agents and admins."""
        return self.engine.feature(Linking)

    @property
    def db(self) -> ConsoleStore:
        """The console's storage."""
        return self.handoffs.db

    @property
    def config(self) -> HandoffConfig:
        """The handoff targets and schedule."""
        return self.handoffs.config

    async def start(self, engine: Engine) -> None:
        """Start the live hub (features start before any channel delivers a message)."""
        self._engine = engine
        await self.hub.start()

    async def stop(self) -> None:
        """Stop the live hub."""
        await self.hub.stop()


CONSOLE = web.AppKey("console", Console)
