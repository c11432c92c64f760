"""Ctrl-C typed in a real terminal (a pseudo-terminal) leaves `baton shell` at once, even in
the middle of a question; in `baton run` it stops the server gracefully."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import textwrap
import time
from pathlib import Path

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
"""A generous bound for each step: a test that reaches it fails, it asserts no duration."""


class Terminal:
    """A command in a pseudo-terminal of its own, as a user's terminal runs it."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = user_env({"BATON_DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'bot.db'}"})
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pseudo-terminal is its controlling terminal
            os.chdir(cwd)
            os.execve(BATON, [BATON, *args], env)
        self.pid, self.fd, self.output = pid, fd, ""
        self.status: int | None = None

    def read_until(self, text: str) -> None:
        deadline = time.monotonic() + _BOUND
        while text not in self.output:
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output}"
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the command ended and closed the terminal
                    chunk = b""
                assert chunk, f"the output ended before {text!r}:\n{self.output}"
                self.output += chunk.decode(errors="replace")

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_status(self) -> int | None:
        """The exit status once the command ends (bounded); None if it did not end."""
        deadline = time.monotonic() + _BOUND
        while time.monotonic() < deadline:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0] == self.pid:
                self.status = os.waitstatus_to_exitcode(with_status[1])
                return self.status
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:  # never a blocking read: a command that did not end fails the test
                with contextlib.suppress(OSError):
                    self.output += os.read(self.fd, 4096).decode(errors="replace")
        return None

    def close(self) -> None:
        if self.status is None and os.waitpid(self.pid, os.WNOHANG)[0] == 0:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_ctrl_c_in_the_middle_of_a_question_leaves_the_shell(tmp_path: Path) -> None:
    (tmp_path / "mybot.py").write_text(MY_BOT)
    shell = Terminal(tmp_path, "shell", "mybot:app", "--user", "ada")
    try:
        shell.read_until("you> ")
        shell.type(b"hello\r")
        shell.read_until("bot> Hi! What's your name?")
        shell.read_until("What's your name?\r\nyou> ")
        shell.type(b"Ad")  # half an answer typed, then Ctrl-C
        shell.type(b"\x03")
        status = shell.exit_status()
    finally:
        shell.close()
    assert status in (0, 130), shell.output
    assert "Traceback" not in shell.output


def test_ctrl_c_stops_baton_run(tmp_path: Path) -> None:
    (tmp_path / "mybot.py").write_text(MY_BOT)
    server = Terminal(tmp_path, "run", "mybot:app", "--port", str(free_port()))
    try:
        server.read_until("Ctrl-C stops it.")
        server.type(b"\x03")
        status = server.exit_status()
    finally:
        server.close()
    assert status == 0, server.output
    assert "Traceback" not in server.output
