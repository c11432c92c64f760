"""`baton shell`: chat with the bot in the terminal, through the same engine and storage.

When `baton run` already serves the database (always so for a SQLite file it holds), the shell
joins that server as a web chat customer (`bot.shell_remote`), so an agent's replies from the
console reach the terminal. Otherwise it runs an engine of its own.
"""

from __future__ import annotations

import asyncio
import getpass
import uuid

from adapters.base import Inbound
from adapters.web import Reply, ShellAdapter
from bot.assembly import build_engine
from bot.serving import find_server
from bot.settings import Settings
from bot.startup import StartupError, database_problem
from bot.terminal import Terminal
from dialogs import App, pending_prompt
from storage import Store, StoreError, StoreLocked, open_store

__all__ = ["run_shell"]


async def run_shell(settings: Settings, app: App, *, user: str | None = None) -> int:
    """Run the interactive shell; returns the exit status."""
    identity = user or getpass.getuser() or "you"
    terminal = Terminal()
    if not settings.database_url.startswith("sqlite"):
        server = await find_server(settings)
        if server is not None:
            return await _remote(terminal, server, identity)
    try:
        store = await open_store(settings.database_url, engine=True)
    except StoreLocked:
        server = await find_server(settings)
        if server is None:
            raise
        return await _remote(terminal, server, identity)
    try:
        try:
            await store.check_schema()
        except StoreError:
            raise
        except Exception as exc:
            raise StartupError(database_problem(settings.database_url, exc)) from None
        return await _local(settings, store, app, terminal, identity)
    finally:
        await store.close()


async def _remote(terminal: Terminal, server: str, identity: str) -> int:
    from bot.shell_remote import run_remote_shell

    return await run_remote_shell(terminal, server, identity)


async def _local(
    settings: Settings, store: Store, app: App, terminal: Terminal, identity: str
) -> int:
    adapter = ShellAdapter()
    engine = build_engine(settings, store, app, {"shell": adapter}, platforms=False)
    await engine.start()
    seen = 0

    def show_new() -> None:
        nonlocal seen
        for reply in adapter.replies(identity, seen):
            terminal.show(reply)
            seen = reply.seq

    async def follow() -> None:
        # Replies that come on their own (a queue update) show as they arrive.
        while True:
            await adapter.wait(identity, seen)
            show_new()

    follower = asyncio.create_task(follow())
    try:
        terminal.say(
            f"Baton shell: you are {identity!r} on {settings.database_url}. "
            "Ctrl-D, Ctrl-C or /quit to leave."
        )
        known = await store.identity("shell", identity)
        if known is not None:
            pending = pending_prompt((await store.load_state(known[1])).journal)
            if pending is not None:
                terminal.say("(where we left off)")
                choices = tuple((c.value, c.label) for c in pending.choices)
                terminal.show(Reply(0, pending.text, choices, 0.0))
        while True:
            line = await terminal.read_line()
            if line is None or line.strip() in ("/quit", "/exit"):
                terminal.say("")
                return 0
            if not line.strip():
                continue
            await engine.receive([Inbound("shell", uuid.uuid4().hex, identity, text=line)])
            try:
                # The turn committed and its replies sent (or a retry scheduled).
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a Ctrl-C
                # (the cancellation) that arrives as the engine turns idle.
                async with asyncio.timeout(30.0):
                    await engine.idle()
            except TimeoutError:
                terminal.say("(the bot is still working; its replies will follow)")
            show_new()
    finally:
        follower.cancel()
        await engine.stop()
