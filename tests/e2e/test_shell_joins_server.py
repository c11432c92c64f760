"""`baton shell` while `baton run` serves the same SQLite file: the shell joins the server, so
a customer in the terminal who asks for a person gets the agent's reply from the console."""

from __future__ import annotations

import asyncio
import re
import signal
import textwrap
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.baton_process import free_port
from tests.support.command import BATON, user_env

MY_BOT = textwrap.dedent("""
    from dialogs import App, Context, flow

    @flow()
    async def hello(ctx: Context) -> None:
        name = await ctx.ask("Hi! What's your name?")
        await ctx.say(f"Nice to meet you, {name}.")

    app = App(flows=[hello], start=hello)
""")

_BOUND = 60.0
"""A generous bound for each wait: reaching it fails the test, which asserts no duration."""


async def _until(stream: asyncio.StreamReader, text: str, seen: list[str]) -> None:
    async def read() -> None:
        while text not in "".join(seen):
            chunk = await stream.read(4096)
            assert chunk, f"the output ended before {text!r}:\n{''.join(seen)}"
            seen.append(chunk.decode())

    await asyncio.wait_for(read(), _BOUND)


class Agent:
    """An agent using the console's JSON API, as the console page does."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base
        self.headers = {"Origin": base}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(
            method, self.base + path, json=body, headers=self.headers
        ) as response:
            assert response.status in (200, 201), await response.text()
            cookie = response.headers.get("Set-Cookie", "")
            if cookie.startswith("__Host-baton_session="):
                # A Secure cookie on loopback: sent by hand, as a browser does.
                self.headers["Cookie"] = cookie.split(";", 1)[0]
            return await response.json()


async def test_a_shell_customer_gets_an_agents_reply_while_baton_run_serves(
    tmp_path: Path,
) -> None:
    (tmp_path / "mybot.py").write_text(MY_BOT)
    env = user_env({"BATON_DATABASE_URL": "sqlite+aiosqlite:///./baton.db"})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = await asyncio.create_subprocess_exec(
        BATON,
        *("run", "mybot:app", "--port", str(port)),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    shell: asyncio.subprocess.Process | None = None
    try:
        assert server.stdout is not None
        await _until(server.stdout, "Ctrl-C stops it.", [])
        added = await asyncio.create_subprocess_exec(
            BATON,
            *("agent", "add", "grace@example.com", "--name", "Grace", "--generate-password"),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(added.communicate(), _BOUND)
        found = re.search(r"Password \(shown once, keep it safe\): (\S+)", out.decode())
        assert found, out.decode()
        shell = await asyncio.create_subprocess_exec(
            BATON,
            *("shell", "mybot:app", "--user", "ada"),
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert shell.stdin is not None
        assert shell.stdout is not None
        seen: list[str] = []
        await _until(shell.stdout, f"on the web chat of the server at {base}", seen)
        shell.stdin.write(b"hello\n")
        await _until(shell.stdout, "bot> Hi! What's your name?", seen)
        shell.stdin.write(b"agent\n")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            grace = Agent(http, base)
            await grace.call(
                "POST", "/api/session", {"email": "grace@example.com", "password": found[1]}
            )
            logged_in = await grace.call("GET", "/api/session")
            grace.headers["X-CSRF-Token"] = logged_in["csrf_token"]
            for _ in range(int(_BOUND * 10)):  # until the handoff is in the queue (bounded)
                queue = (await grace.call("GET", "/api/conversations"))["items"]
                if queue:
                    break
                await asyncio.sleep(0.1)
            assert queue, "the shell customer's handoff never reached the queue"
            conversation = queue[0]["id"]
            await grace.call("POST", f"/api/conversations/{conversation}/claim")
            await grace.call(
                "POST",
                f"/api/conversations/{conversation}/messages",
                {"text": "Hello Ada, Grace here. How can I help?"},
            )
            await _until(shell.stdout, "Hello Ada, Grace here. How can I help?", seen)
        shell.stdin.close()
        assert await asyncio.wait_for(shell.wait(), _BOUND) == 0
        server.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(server.wait(), _BOUND) == 0
    finally:
        for proc in (shell, server):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
