"""Start-up mistakes as a user makes them: one or two lines naming the problem and the fix,
exit status 2, no traceback and no banner. And the banner once everything is up."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest

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


def _start(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    values = {
        "BATON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "BATON_PORT": str(free_port()),  # not 8080: other servers may run on this machine
    }
    return subprocess.run(
        [BATON, *args],
        cwd=tmp_path,
        env=user_env(values | (env or {})),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_mistake(done: subprocess.CompletedProcess[str]) -> str:
    """The message of a start-up mistake, checked to be one or two lines and nothing else."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "Baton is running" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, done.stderr
    assert lines[0].startswith("baton: ")
    return done.stderr


@pytest.mark.parametrize("command", ["run", "shell"])
def test_an_unreachable_postgresql_names_host_port_and_database(
    tmp_path: Path, command: str
) -> None:
    url = "postgresql+asyncpg://shop:s3cret-pw@127.0.0.1:1/shopdb"
    message = _one_mistake(_start(tmp_path, command, env={"BATON_DATABASE_URL": url}))
    assert "127.0.0.1:1" in message
    assert "'shopdb'" in message
    assert "s3cret-pw" not in message
    assert "BATON_DATABASE_URL" in message


def test_a_port_in_use_names_the_port_and_who_holds_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        message = _one_mistake(_start(tmp_path, "run", "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is already in use by process {os.getpid()}" in message
    assert "--port" in message


@pytest.mark.parametrize("command", ["run", "shell"])
def test_a_syntax_error_in_the_bot_names_its_file_and_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "mybot.py").write_text("from dialogs import App\n\napp = App(flows=[\n")
    message = _one_mistake(_start(tmp_path, command, "mybot:app"))
    assert "mybot.py line 3" in message
    assert "never closed" in message


@pytest.mark.parametrize("command", ["run", "shell"])
def test_an_import_error_in_the_bot_names_its_file_and_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "mybot.py").write_text("from dialogs import App\nimport requestz\n")
    message = _one_mistake(_start(tmp_path, command, "mybot:app"))
    assert "mybot.py line 2: No module named 'requestz'" in message


def test_a_module_that_is_not_there_says_where_it_was_looked_for(tmp_path: Path) -> None:
    message = _one_mistake(_start(tmp_path, "run", "mybot:app"))
    assert f"cannot import 'mybot': no mybot.py in {tmp_path}" in message


def test_a_bad_setting_names_it_its_value_and_the_fix(tmp_path: Path) -> None:
    message = _one_mistake(_start(tmp_path, "run", env={"BATON_PORT": "eighty"}))
    assert "BATON_PORT='eighty'" in message
    assert ".env" in message


async def _until(stream: asyncio.StreamReader, text: str) -> str:
    seen = ""
    while text not in seen:
        line = await stream.readline()
        assert line, f"the output ended before {text!r}:\n{seen}"
        seen += line.decode()
    return seen


async def test_the_bot_in_the_current_folder_runs_and_the_banner_follows_start_up(
    tmp_path: Path,
) -> None:
    (tmp_path / "mybot.py").write_text(MY_BOT)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        BATON,
        "run",
        "mybot:app",
        "--port",
        str(port),
        cwd=tmp_path,
        env=user_env({"BATON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        printed = await asyncio.wait_for(_until(proc.stdout, "Ctrl-C stops it."), 120)
        with socket.create_connection(("127.0.0.1", port)):
            pass  # it listens when the banner is out
        proc.send_signal(signal.SIGINT)
        status = await asyncio.wait_for(proc.wait(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    url = f"http://127.0.0.1:{port}"
    assert f"Baton is running mybot:app on sqlite+aiosqlite:///{tmp_path / 'bot.db'}" in printed
    assert f"{url}/sandbox" in printed
    assert f"Web chat: {url}/chat" in printed
    assert f"Console:  {url}/console" in printed
    assert "baton agent add EMAIL" in printed
    assert "baton shell" in printed
    assert status == 0


def test_the_shell_runs_the_bot_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "mybot.py").write_text(MY_BOT)
    done = subprocess.run(
        [BATON, "shell", "mybot:app", "--user", "ada"],
        cwd=tmp_path,
        env=user_env({"BATON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}),
        input="hello\nAda\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bot> Hi! What's your name?" in done.stdout
    assert "bot> Nice to meet you, Ada." in done.stdout
