"""The aiohttp application: storage, engine, channels and pages wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from adapters.base import Adapter, DeliveryUpdate, Inbound
from adapters.web import WebAdapter
from bot.assembly import build_engine
from bot.console import mount_console
from bot.engine import Engine
from bot.engine.builder import Feature
from bot.engine.send_process import SendProcesses, remote_adapters
from bot.event_loop import resolve
from bot.gc_tuning import tune_for_serving
from bot.serving import database_fingerprint
from bot.settings import Settings
from bot.startup import StartupError, import_app_module
from bot.web_guard import install as guard_requests
from dialogs import App
from storage import Store, open_store

log = logging.getLogger("baton")

__all__ = ["ADAPTERS", "ENGINE", "SEND_PROCESSES", "STORE", "create_app", "load_app"]

STORE = web.AppKey("store", Store)
ENGINE = web.AppKey("engine", Engine)
ADAPTERS = web.AppKey("adapters", dict[str, Adapter])
SETTINGS = web.AppKey("settings", Settings)
SEND_PROCESSES = web.AppKey("send_processes", SendProcesses)
"""The child processes sending replies, when BATON_SEND_PROCESSES is set."""

MAX_BODY = 1024 * 1024


def load_app(target: str | None) -> App:
    """The `dialogs.App` named by "package.module:attribute" (default: the demo bot).

    A mistake (a module that cannot be imported, a syntax error, no App) is a `StartupError`
    naming the file and line."""
    if not target:
        target = "bot.demo:app"
    module_name, _, attr = target.partition(":")
    module = import_app_module(module_name)
    found = getattr(module, attr or "app", None)
    if not isinstance(found, App):
        raise StartupError(
            f"{target!r} is not a dialogs.App: define `app = App(flows=[...])` in "
            f"{module_name} and run `baton run {module_name}:app`"
        )
    return found


class _Sink:
    """Hands adapter input to the engine once it exists (routes are made before startup)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def receive(self, messages: Sequence[Inbound]) -> list[bool]:
        return await self._app[ENGINE].receive(messages)

    async def delivery_status(self, update: DeliveryUpdate) -> None:
        await self._app[ENGINE].delivery_status(update)


async def create_app(
    settings: Settings,
    dialogs_app: App,
    *,
    adapters: Sequence[Adapter] = (),
    features: Sequence[Feature] = (),
) -> web.Application:
    """Build the web application. Storage opens and the engine starts on startup.

    `features` plug into the engine after the built-in ones (see `bot.engine.builder`)."""
    chosen: dict[str, Adapter] = {"web": WebAdapter()}
    for adapter in adapters:
        chosen[adapter.channel] = adapter
    # BATON_SEND_PROCESSES: pickled now, while the adapters are plain objects (no routes'
    # sink, no started clients); the children are started with the engine.
    remote: list[Adapter] = []
    pickled = b""
    if settings.send_processes:
        remote, pickled = remote_adapters(chosen.values())
        if not remote:
            log.info("BATON_SEND_PROCESSES is set, but no platform channel is on")
    app = web.Application(client_max_size=MAX_BODY)
    guard_requests(
        app, read_timeout=settings.read_timeout_seconds, max_slow_readers=settings.max_slow_readers
    )
    app[SETTINGS] = settings
    app[ADAPTERS] = chosen
    sink = _Sink(app)
    for adapter in chosen.values():
        app.router.add_routes(list(adapter.routes(sink)))
    app.router.add_get("/", _index)
    app.router.add_get("/healthz", _health)
    console = mount_console(app, settings, dialogs_app)
    from bot.privacy import pages as privacy_pages
    from bot.privacy import web as privacy_web

    app.router.add_routes(privacy_web.routes())  # the customer's one-time export link
    app.router.add_routes(privacy_pages.routes())  # the console's customer page

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(settings.database_url, engine=True)
        processes: SendProcesses | None = None
        engine: Engine | None = None
        started: list[Adapter] = []
        try:
            await store.check_schema()
            if remote:
                processes = SendProcesses(
                    remote,
                    pickled,
                    settings.send_processes,
                    gc_freeze=settings.gc_freeze,
                    # What "auto" means here, so a child can only run on what this
                    # process can (and a missing uvloop is refused before any child starts).
                    event_loop=resolve(settings.event_loop),
                )
                await processes.start()
                app[SEND_PROCESSES] = processes
            engine = build_engine(
                settings,
                store,
                dialogs_app,
                chosen,
                features=[console, *features],
                send_adapters=(
                    {a.channel: processes.adapter(a) for a in remote} if processes else None
                ),
            )
            app[STORE] = store
            app[ENGINE] = engine
            # Features (handoff, linking, the console) before any channel delivers a message;
            # then the channels; then what a previous run left.
            await engine.start_features()
            for adapter in chosen.values():
                started.append(adapter)
                await adapter.start()
            await engine.start()
            if settings.gc_freeze:
                tune_for_serving()
        except BaseException:
            if engine is not None:
                await engine.stop(settings.stop_grace_seconds)
            for adapter in started:
                try:
                    await adapter.aclose()
                except Exception:
                    log.exception("closing the %s adapter failed", adapter.channel)
            if processes is not None:
                await processes.close()
            await store.close()
            raise
        try:
            yield
        finally:
            await engine.stop(settings.stop_grace_seconds)
            if processes is not None:
                await processes.close()  # after the engine: no more sends
            for adapter in chosen.values():
                try:
                    await adapter.aclose()
                except Exception:
                    log.exception("closing the %s adapter failed", adapter.channel)
            await store.close()

    app.cleanup_ctx.append(lifecycle)
    return app


async def _index(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat")


async def _health(request: web.Request) -> web.StreamResponse:
    engine = request.app.get(ENGINE)
    return web.json_response(
        {
            "ok": engine is not None,
            "lanes": engine.lanes.busy if engine else 0,
            "outbox": engine.outbox.pending if engine else 0,
            # Which database this server serves (a hash): `baton shell` joins only its own.
            "database": database_fingerprint(request.app[SETTINGS].database_url),
        }
    )
