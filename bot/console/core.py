"""The console's shared state: settings, the handoff service and the live hub."""

from __future__ import annotations

from aiohttp import web

from bot.console.auth import LoginThrottle
from bot.console.live import Hub
from bot.engine import Engine
from bot.handoff import BusinessHours, HandoffConfig, Handoffs
from bot.settings import Settings
from dialogs import App
from storage import ConsoleStore, Store

__all__ = ["CONSOLE", "Console", "handoff_config"]


def handoff_config(settings: Settings) -> HandoffConfig:
    """The handoff targets and schedule from the settings."""
    return HandoffConfig(
        hours=BusinessHours.parse(settings.business_hours, settings.timezone, settings.holidays),
        reply_by=settings.reply_by_minutes * 60,
        warn_before=settings.reply_by_warning_minutes * 60,
        per_place=settings.expected_wait_minutes * 60,
        update_every=settings.queue_update_minutes * 60,
    )


class Console:
    """Everything the console's routes share; started and stopped with the engine."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings = settings
        self.app = app
        self.config = handoff_config(settings)
        self.hub = Hub(self)
        self.throttle = LoginThrottle()
        self._handoffs: Handoffs | None = None
        self._engine: Engine | None = None

    @property
    def handoffs(self) -> Handoffs:
        """The handoff service (raises before the application started)."""
        if self._handoffs is None:
            raise web.HTTPServiceUnavailable(text="Baton is starting")
        return self._handoffs

    @property
    def db(self) -> ConsoleStore:
        """The console's storage."""
        return self.handoffs.db

    @property
    def engine(self) -> Engine:
        """The running engine."""
        if self._engine is None:
            raise web.HTTPServiceUnavailable(text="Baton is starting")
        return self._engine

    async def start(self, store: Store, engine: Engine) -> None:
        """Attach to the engine (before it handles any message) and start the background work:
        the queue ticker and the live hub."""
        handoffs = Handoffs(store, self.app, self.config, send=engine.outbox.enqueue)
        handoffs.forget = engine.turns.forget
        handoffs.on_change = self.hub.kick
        engine.turns.routing = handoffs
        self._handoffs = handoffs
        self._engine = engine
        await handoffs.start()
        await self.hub.start()

    async def stop(self) -> None:
        """Stop the background work and detach from the engine."""
        await self.hub.stop()
        if self._handoffs is not None:
            await self._handoffs.stop()
        if self._engine is not None:
            self._engine.turns.routing = None


CONSOLE = web.AppKey("console", Console)
