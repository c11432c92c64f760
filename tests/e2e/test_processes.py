"""Baton as a user runs it: the `baton` command in real processes, killed and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

MY_BOT = textwrap.dedent("""
    from dialogs import App, Command, Context, flow
    from dialogs.validators import number

    def price(count: int) -> int:
        with open(__file__ + ".calls", "a") as f:
            f.write("price\\n")
        return count * 7

    @flow(triggers=[Command("tickets")])
    async def tickets(ctx: Context) -> None:
        name = await ctx.ask("Who are the tickets for?", remember="name")
        count = await ctx.ask(f"How many tickets, {name}?", validate=number)
        total = await ctx.step("price", price, count)
        film = await ctx.ask("Which film?")
        await ctx.say(f"{count} tickets for {film}, {total} euro, for {name}.")

    app = App(flows=[tickets])
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), os.getcwd()])
    env.update(extra)
    return env


@asynccontextmanager
async def baton_run(tmp_path: Path, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "my_bot:app",
        "--port",
        str(port),
        env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):  # wait until it serves (bounded)
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("baton run did not start")
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _idle(http: aiohttp.ClientSession, port: int) -> None:
    for _ in range(500):
        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
            health = await r.json()
        if health["lanes"] == 0 and health["outbox"] == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the engine did not become idle")


class Customer:
    """A customer of the web chat page, over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.base = f"http://127.0.0.1:{port}"
        self.after = 0

    async def open(self) -> None:
        async with self.http.get(f"{self.base}/chat") as r:
            assert r.status == 200

    async def say(self, text: str) -> None:
        async with self.http.post(f"{self.base}/chat/api/messages", json={"text": text}) as r:
            assert r.status == 200, await r.text()

    async def hears(self, text: str) -> None:
        async with self.http.get(
            f"{self.base}/chat/api/messages", params={"after": str(self.after), "wait": "20"}
        ) as r:
            data = await r.json()
        assert data["replies"], f"no reply; expected {text!r}"
        self.after = data["replies"][0]["seq"]
        assert data["replies"][0]["text"] == text


async def test_a_flow_survives_a_killed_process(tmp_path: Path) -> None:
    (tmp_path / "my_bot.py").write_text(MY_BOT)
    port = _free_port()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with baton_run(tmp_path, port) as proc:
            me = Customer(http, port)
            await me.open()
            await me.say("/tickets")
            await me.hears("Who are the tickets for?")
            await me.say("Ada")
            await me.hears("How many tickets, Ada?")
            await me.say("3")
            await me.hears("Which film?")
            await _idle(http, port)  # the turn and its "sent" record are committed
            proc.send_signal(signal.SIGKILL)
        async with baton_run(tmp_path, port):
            # The same page goes on polling with its cursor from before the restart.
            await me.say("Metropolis")
            await me.hears("3 tickets for Metropolis, 21 euro, for Ada.")
    assert (tmp_path / "my_bot.py.calls").read_text() == "price\n"


async def _shell(tmp_path: Path, script: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "shell",
        "my_bot:app",
        "--user",
        "grace",
        env=_env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(script.encode()), 60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_baton_shell_continues_a_flow_after_a_restart(tmp_path: Path) -> None:
    (tmp_path / "my_bot.py").write_text(MY_BOT)
    first = await _shell(tmp_path, "/tickets\nGrace\n")
    second = await _shell(tmp_path, "two\n2\nNosferatu\n")
    assert "bot> Who are the tickets for?" in first
    assert "bot> How many tickets, Grace?" in first
    assert "(where we left off)\nbot> How many tickets, Grace?" in second
    assert "bot> Please answer with a number, like 3 or 2.5." in second
    assert "bot> 2 tickets for Nosferatu, 14 euro, for Grace." in second


async def test_a_bad_setting_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=_env(tmp_path, BATON_PORT="eighty"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert "BATON_PORT" in err.decode()


async def test_baton_migrate_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    outputs = []
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "migrate",
            env=_env(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode()
        outputs.append(out.decode())
    assert "migrated empty database ->" in outputs[0]
    assert "the schema is up to date" in outputs[1]
