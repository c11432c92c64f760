"""`baton shell` while `baton run` serves the database: a web chat customer of that server.

The shell posts what you type to the server's web chat API (`POST /chat/api/messages`) and
long-polls its replies (`GET /chat/api/messages?after=N`), as the page at /chat does, so the
server's engine handles the turn and an agent's reply from the console reaches the terminal.
You are the web chat customer `shell-<user>` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import aiohttp

from adapters.web import Reply
from bot.terminal import Terminal

__all__ = ["run_remote_shell"]

_FIRST_REPLY = 15.0
"""How long to wait for the first reply to a line before reading the next one."""
_MORE_REPLIES = 0.5
"""A reply followed by no other for this long ends a turn's replies."""


def chat_cookie(user: str) -> str:
    """The web chat session cookie for `user` (letters, digits, - and _ only)."""
    return "shell-" + (re.sub(r"[^A-Za-z0-9_-]", "_", user)[:50] or "you")


async def run_remote_shell(terminal: Terminal, server: str, user: str) -> int:
    """Chat through the server at `server` until the input ends; returns the exit status."""
    cookie = {"Cookie": f"baton_chat={chat_cookie(user)}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(
        timeout=timeout, headers=cookie, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        arrived = asyncio.Event()
        seen = int(time.time() * 1000)  # replies from now on (the server keeps older ones)

        async def follow() -> None:
            nonlocal seen
            while True:
                try:
                    async with http.get(
                        f"{server}/chat/api/messages", params={"after": str(seen), "wait": "5"}
                    ) as response:
                        response.raise_for_status()
                        data = await response.json()
                except (aiohttp.ClientError, ValueError):
                    terminal.say(f"(cannot reach the server at {server}; trying again)")
                    await asyncio.sleep(2)
                    continue
                for item in data.get("replies", []):
                    reply = Reply(
                        int(item["seq"]),
                        str(item["text"]),
                        tuple((str(v), str(label)) for v, label in item.get("choices", [])),
                        0.0,
                    )
                    if reply.seq > seen:
                        terminal.show(reply)
                        seen = reply.seq
                        arrived.set()

        follower = asyncio.create_task(follow())
        try:
            terminal.say(
                f"Baton shell: you are {user!r} on the web chat of the server at {server} "
                "(it serves this database). Ctrl-D, Ctrl-C or /quit to leave."
            )
            while True:
                line = await terminal.read_line()
                if line is None or line.strip() in ("/quit", "/exit"):
                    terminal.say("")
                    return 0
                if not line.strip():
                    continue
                arrived.clear()
                async with http.post(
                    f"{server}/chat/api/messages", json={"text": line}
                ) as response:
                    if response.status != 200:
                        terminal.say(f"(the server refused that: {await response.text()})")
                        continue
                await _replies_of_the_turn(arrived)
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower


async def _replies_of_the_turn(arrived: asyncio.Event) -> None:
    # Wait for the turn's first reply, then for its others (each may be a separate message).
    wait = _FIRST_REPLY
    while True:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a Ctrl-C.
            async with asyncio.timeout(wait):
                await arrived.wait()
        except TimeoutError:
            return
        arrived.clear()
        wait = _MORE_REPLIES
