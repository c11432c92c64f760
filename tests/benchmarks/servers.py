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

from bot.event_loop import run
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


async def baton_app(api_base: str, database_url: str, send_processes: int = 0) -> web.Application:
    """The real Baton: `create_app` with the Telegram adapter pointed at the emulator."""
    from adapters.telegram import TelegramAdapter
    from bot.app import create_app
    from bot.settings import Settings

    options: dict[str, Any] = {"send_processes": send_processes} if send_processes else {}
    if "send-process" in _WHAT_IF_ON:
        options["send_processes"] = 1
    if "no-gc-freeze" in _WHAT_IF_ON:
        options["gc_freeze"] = False
    if "asyncio-loop" in _WHAT_IF_ON:
        options["event_loop"] = "asyncio"
    settings = Settings(database_url=database_url, log_level="WARNING", **options)
    adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api_base)
    return await create_app(settings, baton_dialogs(), adapters=[adapter])


WHAT_IF = {
    "send-process": "BATON_SEND_PROCESSES=1: replies' platform calls in a child process",
    "no-gc-freeze": "BATON_GC_FREEZE=false: the collector's defaults, nothing frozen",
    "asyncio-loop": "BATON_EVENT_LOOP=asyncio: asyncio's own loop instead of uvloop",
    "batch-report": "no change; the server logs how many operations its group commits held",
    "gc-report": "no change; the server logs its garbage collections (count, total and "
    "longest pause per generation) when it stops",
}
"""Runtime what-if changes to Baton for `--what-if`: experiments, never the default."""


class _GcReport:
    """Pauses of the garbage collector, per generation (`--what-if gc-report`)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.on = False

    def install(self) -> None:
        import gc

        gc.callbacks.append(self._callback)
        self.on = True

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self.started)

    def report(self) -> str:
        return "gc: " + "; ".join(
            f"gen{g} {len(p)}x total {sum(p) * 1000:.0f} ms max {max(p, default=0) * 1000:.1f} ms"
            for g, p in self.pauses.items()
        )


_GC = _GcReport()
_WHAT_IF_ON: list[str] = []


def apply_what_if(names: Sequence[str]) -> None:
    """Apply the `WHAT_IF` experiments named, in this server process only."""
    _WHAT_IF_ON.extend(names)
    if "gc-report" in names:
        _GC.install()
    if "batch-report" in names:
        _patch_batcher()


_BATCHES: list[int] = []


def _patch_batcher() -> None:
    """Count the operations each group commit holds (`--what-if batch-report`)."""
    from storage._batch import Batcher

    commit = Batcher._commit

    async def counted(self: Any, batch: list[Any]) -> None:
        _BATCHES.append(len(batch))
        await commit(self, batch)

    Batcher._commit = counted  # type: ignore[method-assign]


def _batch_report() -> str:
    total = sum(_BATCHES)
    return (
        f"group commits: {len(_BATCHES)} transactions, {total} operations, "
        f"{total / max(1, len(_BATCHES)):.2f} per transaction, largest {max(_BATCHES, default=0)}"
    )


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
    """pyinstrument on the event-loop thread, where Baton runs everything, SQLite included."""

    def __init__(self, path: str) -> None:
        from pyinstrument import Profiler

        self.path = path
        self.main = Profiler(interval=0.0005, async_mode="disabled")

    def start(self) -> None:
        self.main.start()

    def stop(self) -> None:
        self.main.stop()

    def write(self) -> None:
        session = self.main.last_session
        root = session.root_frame() if session is not None else None
        parts = [
            "# Baton server profile (pyinstrument, wall-clock samples; idle = selector wait)",
            "",
            "## Event-loop thread: time by area",
            "",
            _areas_table(root),
            "## Event-loop thread: functions by self time",
            self.main.output_text(flat=True, show_all=False),
            "## Event-loop thread: call tree",
            self.main.output_text(show_all=False),
        ]
        Path(self.path).write_text("\n".join(parts))


_ROOT = Path(__file__).resolve().parents[2]
_PROJECT_AREAS = {
    "storage": "Baton storage (store, group commit)",
    "bot": "Baton engine, lanes, outbox, web app",
    "dialogs": "Baton flow replay",
    "adapters": "Baton Telegram adapter",
    "tests": "the benchmark's flow",
}
_LIBRARY_AREAS = {
    "aiogram": "aiogram and pydantic (send models, answers)",
    "pydantic": "aiogram and pydantic (send models, answers)",
    "pydantic_core": "aiogram and pydantic (send models, answers)",
    "sqlalchemy": "SQLAlchemy",
    "asyncio": "asyncio event loop",
}


def _area(path: str | None, function: str | None, parent: str) -> str:
    """The area a frame's own time counts for; built-ins count where they were called from."""
    name = function or ""
    if not path or path.startswith("<"):
        if name.endswith(".poll") or name.startswith("select"):
            return "idle: waiting for I/O"
        if name.startswith("socket."):
            return "socket send/recv (kernel)"
        if name.startswith(("Connection.", "Cursor.")):
            return "SQLite library (execute, commit)"
        return parent
    resolved = Path(path)
    parts = resolved.parts
    package = parts[parts.index("site-packages") + 1] if "site-packages" in parts else ""
    if not package and resolved.is_relative_to(_ROOT):
        top = resolved.relative_to(_ROOT).parts[0]
        return _PROJECT_AREAS.get(top, parent)
    if package == "aiohttp":
        server = resolved.name.startswith("web")
        return "aiohttp server" if server else "aiohttp client and HTTP"
    if package:
        return _LIBRARY_AREAS.get(package, "other libraries")
    if "asyncio" in parts:
        return "asyncio event loop"
    return parent if parent != "other" else "standard library"


def _areas_table(root: Any) -> str:
    """Self time summed by area: where the loop's time goes, in a few lines."""
    totals: dict[str, float] = {}
    stack = [(root, "other")] if root is not None else []
    while stack:
        frame, parent = stack.pop()
        area = _area(frame.file_path, frame.function, parent)
        own = frame.time - sum(child.time for child in frame.children)
        totals[area] = totals.get(area, 0.0) + max(own, 0.0)
        stack.extend((child, area) for child in frame.children)
    total = sum(totals.values()) or 1.0
    busy = sum(t for a, t in totals.items() if not a.startswith("idle")) or 1.0
    lines = ["| area | seconds | % of samples | % of busy time |", "| --- | --- | --- | --- |"]
    for area, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        share = "" if area.startswith("idle") else f"{100 * seconds / busy:.1f}"
        lines.append(f"| {area} | {seconds:.2f} | {100 * seconds / total:.1f} | {share} |")
    return "\n".join(lines) + "\n"


async def serve(kind: str, args: argparse.Namespace) -> None:
    """Build the `kind` server, serve it until SIGTERM or SIGINT."""
    profiles = _Profiles(args.profile) if args.profile else None
    apply_what_if(args.what_if.split(",") if args.what_if else [])
    if kind == "baton":
        app = await baton_app(args.api_base, args.database_url, args.send_processes)
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
        profiles.start()
    print(f"READY {port}", flush=True)
    try:
        await stop.wait()
    finally:
        if profiles is not None:
            profiles.stop()
            profiles.write()
        if _GC.on:
            print(_GC.report(), file=sys.stderr, flush=True)
        if "batch-report" in _WHAT_IF_ON:
            print(_batch_report(), file=sys.stderr, flush=True)
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
    parser.add_argument(
        "--send-processes", type=int, default=0, help="baton: BATON_SEND_PROCESSES"
    )
    parser.add_argument("--what-if", default="", help="comma-separated: " + ", ".join(WHAT_IF))
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="ceiling, aiogram: the event loop (Baton's comes from its settings)",
    )
    args = parser.parse_args(argv)
    if args.kind == "baton" and not args.database_url:
        parser.error("baton needs --database-url")
    if args.kind == "ceiling" and not args.sqlite_path:
        parser.error("ceiling needs --sqlite-path")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.kind == "baton":
        # As `baton run` does: the loop BATON_EVENT_LOOP names, uvloop where it is installed.
        # The profile run takes asyncio's loop: pyinstrument sees its wait for I/O
        # (`epoll.poll`) apart from its work, where uvloop's are both C it cannot see.
        asyncio_loop = "asyncio-loop" in args.what_if.split(",") or bool(args.profile)
        run(serve(args.kind, args), "asyncio" if asyncio_loop else "auto")
    else:
        run(serve(args.kind, args), args.loop)


if __name__ == "__main__":
    main()
