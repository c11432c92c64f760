"""`baton shell`: chat with the bot in the terminal, through the same engine and storage."""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid

from adapters.base import Inbound
from adapters.web import Reply, ShellAdapter
from bot.assembly import build_engine
from bot.engine import Engine
from bot.settings import Settings
from dialogs import App, pending_prompt
from storage import open_store

__all__ = ["run_shell"]


def _show(reply: Reply) -> None:
    print(f"bot> {reply.text}")
    for i, (_, label) in enumerate(reply.choices, start=1):
        print(f"     {i}. {label}")


async def _read_line(prompt: str) -> str | None:
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, input, prompt)
    except EOFError:
        return None


async def _settle(engine: Engine, timeout: float = 30.0) -> None:
    # Wait for the turn to be committed and its replies sent (or a retry to be scheduled).
    try:
        await asyncio.wait_for(engine.idle(), timeout)
    except TimeoutError:
        print("(the bot is still working; its replies will follow)")


async def run_shell(settings: Settings, app: App, *, user: str | None = None) -> int:
    """Run the interactive shell; returns the exit status."""
    store = await open_store(settings.database_url, engine=True)
    adapter = ShellAdapter()
    engine = build_engine(settings, store, app, {"shell": adapter}, platforms=False)
    identity = user or getpass.getuser() or "you"
    try:
        await store.check_schema()
        await engine.start()
        print(
            f"Baton shell: you are {identity!r} on {settings.database_url}. "
            "Ctrl-D or /quit to leave.",
            flush=True,
        )
        known = await store.identity("shell", identity)
        if known is not None:
            state = await store.load_state(known[1])
            pending = pending_prompt(state.journal)
            if pending is not None:
                print("(where we left off)")
                _show(
                    Reply(0, pending.text, tuple((c.value, c.label) for c in pending.choices), 0.0)
                )
        seen = 0
        while True:
            line = await _read_line("you> ")
            if line is None or line.strip() in ("/quit", "/exit"):
                print()
                return 0
            if not line.strip():
                continue
            await engine.receive([Inbound("shell", uuid.uuid4().hex, identity, text=line)])
            await _settle(engine)
            for reply in adapter.replies(identity, seen):
                _show(reply)
                seen = reply.seq
            sys.stdout.flush()
    finally:
        await engine.stop()
        await store.close()
