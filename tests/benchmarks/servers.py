"""The servers under test, each run in its own process by the benchmark.

    python -m tests.benchmarks.servers baton   --api-base URL --database-url URL [--profile F]
    python -m tests.benchmarks.servers ceiling --api-base URL --sqlite-path PATH
    python -m tests.benchmarks.servers aiogram --api-base URL

Each serves the same 3-turn dialog on `POST /webhooks/telegram` (secret header checked) on a
free loopback port, prints `READY <port>` once it answers, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from tests.benchmarks.common import (
    ASK_NAME,
    ASK_ORDER,
    SECRET,
    TOKEN,
    WEBHOOK_PATH,
    thanks,
)

log = logging.getLogger("bench.server")

# --- Baton ----------------------------------------------------------------------------------


def baton_dialogs() -> Any:
    """The benchmark flow as a `dialogs.App`: hi -> name -> order number -> thanks."""
    from dialogs import App, Context, Keyword, flow

    @flow(triggers=[Keyword("hi")], name="order")
    async def order(ctx: Context) -> None:
        name = await ctx.ask(ASK_NAME)
        number = await ctx.ask(ASK_ORDER)
        await ctx.say(thanks(str(name), str(number)))

    return App(flows=[order])


async def baton_app(api_base: str, database_url: str) -> web.Application:
    """The real Baton: `create_app` with the Telegram adapter pointed at the emulator."""
    from adapters.telegram import TelegramAdapter
    from bot.app import create_app
    from bot.settings import Settings

    settings = Settings(database_url=database_url, log_level="WARNING")
    adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api_base)
    return await create_app(settings, baton_dialogs(), adapters=[adapter])


WHAT_IF = {
    "pin-aiogram-response": "hold aiogram's Response[Message] (and friends) so pydantic's "
    "generic-model cache is not emptied by the garbage collector",
    "pg-pool": "PostgreSQL pool of 20 connections, no overflow (no connection churn)",
    "gc-freeze": "after imports, gc.freeze() the startup objects and raise the collection "
    "threshold to 20,000 (implies pin-aiogram-response)",
}
"""Runtime what-if changes to Baton for `--what-if`: experiments, never the default."""

_PINNED: list[Any] = []


def apply_what_if(names: Sequence[str]) -> None:
    """Apply the `WHAT_IF` experiments named, in this server process only."""
    if "pin-aiogram-response" in names or "gc-freeze" in names:
        from aiogram.methods.base import Response
        from aiogram.types import Message, User

        _PINNED.extend([Response[Message], Response[User], Response[bool]])
    if "pg-pool" in names:
        from sqlalchemy.ext.asyncio import create_async_engine

        import storage._runner as runner

        def engine(url: Any, **kwargs: Any) -> Any:
            kwargs.update(pool_size=20, max_overflow=0)
            return create_async_engine(url, **kwargs)

        vars(runner)["create_async_engine"] = engine
    if "gc-freeze" in names:
        import gc

        import adapters.telegram  # noqa: F401 - imported now so its objects are frozen too
        import bot.app  # noqa: F401

        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)


# --- the ceiling: bare aiohttp + sqlite3 + one POST -------------------------------------------

_CEILING_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    direction TEXT NOT NULL,
    text TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_messages_chat ON messages (chat_id, id);
CREATE TABLE IF NOT EXISTS state (
    chat_id INTEGER PRIMARY KEY,
    step INTEGER NOT NULL,
    name TEXT
);
"""

_INSERT_MESSAGE = "INSERT INTO messages (chat_id, direction, text, created_at) VALUES (?, ?, ?, ?)"


class Ceiling:
    """The least a correct bot must do per message: one SQLite transaction, one POST."""

    def __init__(self, path: str, api_base: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_CEILING_SCHEMA)
        self.send_url = f"{api_base}/bot{TOKEN}/sendMessage"
        self.http: ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    def turn(self, chat_id: int, text: str) -> str:
        """One transaction: insert inbound, read state, upsert state, insert outbound."""
        db = self.db
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                _INSERT_MESSAGE,
                (chat_id, "in", text, now),
            )
            row = db.execute(
                "SELECT step, name FROM state WHERE chat_id = ?", (chat_id,)
            ).fetchone()
            step, name = (0, None) if row is None else (int(row[0]), row[1])
            if step == 0:
                reply, step = (ASK_NAME, 1) if text.strip().lower() == "hi" else ("Say hi.", 0)
            elif step == 1:
                reply, step, name = ASK_ORDER, 2, text
            else:
                reply, step = thanks(str(name), text), 0
            db.execute(
                "INSERT INTO state (chat_id, step, name) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET step = excluded.step, name = excluded.name",
                (chat_id, step, name),
            )
            db.execute(
                _INSERT_MESSAGE,
                (chat_id, "out", reply, now),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return reply

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secrets.compare_digest(given.encode(), SECRET.encode()):
            raise web.HTTPUnauthorized(text="Unauthorized")
        update = json.loads(await request.read())
        message = update.get("message")
        if not isinstance(message, dict) or message.get("chat", {}).get("type") != "private":
            return web.json_response({})
        chat_id = int(message["chat"]["id"])
        reply = self.turn(chat_id, str(message.get("text") or ""))
        task = asyncio.get_running_loop().create_task(self.send(chat_id, reply))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.json_response({})

    async def send(self, chat_id: int, text: str) -> None:
        assert self.http is not None
        async with self.http.post(
            self.send_url, data={"chat_id": str(chat_id), "text": text}
        ) as response:
            body = await response.read()
            if response.status != 200:
                self.failures += 1
                log.warning("sendMessage answered %s: %s", response.status, body[:200])

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        self.http = ClientSession()
        try:
            yield
        finally:
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.http.close()
            self.db.close()


def ceiling_app(api_base: str, sqlite_path: str) -> web.Application:
    """The bare aiohttp application of the ceiling."""
    ceiling = Ceiling(sqlite_path, api_base)
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, ceiling.webhook)
    app.cleanup_ctx.append(ceiling.lifecycle)
    return app


# --- aiogram 3 with FSM -----------------------------------------------------------------------


def aiogram_app(api_base: str) -> web.Application:
    """The same dialog as an aiogram 3 bot: FSM on MemoryStorage, SimpleRequestHandler."""
    from aiogram import Bot, Dispatcher, F, Router
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.filters import StateFilter
    from aiogram.fsm.context import FSMContext
    from aiogram.fsm.state import State, StatesGroup
    from aiogram.fsm.storage.memory import MemoryStorage
    from aiogram.types import Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    class Form(StatesGroup):
        name = State()
        order = State()

    router = Router()

    @router.message(StateFilter(None), F.text.lower() == "hi")
    async def start(message: Message, state: FSMContext) -> None:
        await state.set_state(Form.name)
        await message.answer(ASK_NAME)

    @router.message(Form.name, F.text)
    async def got_name(message: Message, state: FSMContext) -> None:
        await state.update_data(name=message.text)
        await state.set_state(Form.order)
        await message.answer(ASK_ORDER)

    @router.message(Form.order, F.text)
    async def got_order(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        await state.clear()
        await message.answer(thanks(str(data.get("name")), str(message.text)))

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=SECRET).register(
        app, path=WEBHOOK_PATH
    )
    setup_application(app, dispatcher, bot=bot)
    return app


# --- serving ----------------------------------------------------------------------------------


class _Profiles:
    """pyinstrument on the event-loop thread and, for Baton on SQLite, on its database thread."""

    def __init__(self, path: str) -> None:
        from pyinstrument import Profiler

        self.path = path
        self.main = Profiler(interval=0.0005, async_mode="disabled")
        self.db: Any = None
        self.executor: Any = None

    def start_main(self) -> None:
        self.main.start()

    async def start_db(self, app: web.Application) -> None:
        from pyinstrument import Profiler

        from bot.app import STORE

        store = app.get(STORE)
        executor = getattr(getattr(store, "_runner", None), "_executor", None)
        if executor is None:  # PostgreSQL: everything runs on the event-loop thread
            return
        self.executor = executor
        self.db = Profiler(interval=0.0005, async_mode="disabled")
        await asyncio.get_running_loop().run_in_executor(executor, self.db.start)

    async def stop(self) -> None:
        self.main.stop()
        if self.db is not None:
            await asyncio.get_running_loop().run_in_executor(self.executor, self.db.stop)

    def write(self) -> None:
        parts = [
            "# Baton server profile (pyinstrument, wall-clock samples; idle = selector wait)",
            "",
            "## Event-loop thread: functions by self time",
            self.main.output_text(flat=True, show_all=False),
            "## Event-loop thread: call tree",
            self.main.output_text(show_all=False),
        ]
        if self.db is not None:
            parts += [
                "## SQLite thread (storage runner): functions by self time",
                self.db.output_text(flat=True),
                "## SQLite thread (storage runner): call tree",
                self.db.output_text(),
            ]
        Path(self.path).write_text("\n".join(parts))


async def serve(kind: str, args: argparse.Namespace) -> None:
    """Build the `kind` server, serve it until SIGTERM or SIGINT."""
    profiles = _Profiles(args.profile) if args.profile else None
    apply_what_if(args.what_if.split(",") if args.what_if else [])
    if kind == "baton":
        app = await baton_app(args.api_base, args.database_url)
    elif kind == "ceiling":
        app = ceiling_app(args.api_base, args.sqlite_path)
    else:
        app = aiogram_app(args.api_base)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if profiles is not None:
        profiles.start_main()
        await profiles.start_db(app)
    print(f"READY {port}", flush=True)
    try:
        await stop.wait()
    finally:
        if profiles is not None:
            await profiles.stop()
            profiles.write()
        with contextlib.suppress(Exception):
            await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.servers")
    parser.add_argument("kind", choices=["baton", "ceiling", "aiogram"])
    parser.add_argument("--api-base", required=True, help="the Telegram emulator's base URL")
    parser.add_argument("--database-url", help="baton: sqlite+aiosqlite:///... or postgresql://")
    parser.add_argument("--sqlite-path", help="ceiling: the SQLite file")
    parser.add_argument("--profile", help="baton: write a pyinstrument profile to this file")
    parser.add_argument("--what-if", default="", help="comma-separated: " + ", ".join(WHAT_IF))
    args = parser.parse_args(argv)
    if args.kind == "baton" and not args.database_url:
        parser.error("baton needs --database-url")
    if args.kind == "ceiling" and not args.sqlite_path:
        parser.error("ceiling needs --sqlite-path")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(args.kind, args))


if __name__ == "__main__":
    main()
