"""The terminal of `baton shell`: lines read without a thread, replies shown as they come.

Input is read on the event loop (`add_reader` on standard input), never in a thread blocked in
`input()`, so Ctrl-C leaves at once at any point, even in the middle of a question.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import sys

from adapters.web import Reply

__all__ = ["Terminal"]

PROMPT = "you> "


class Terminal:
    """Standard input as lines, and standard output for the bot's replies."""

    def __init__(self) -> None:
        self._fd = sys.stdin.fileno()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._eof = False
        self._prompting = False
        self._tty = sys.stdout.isatty()

    async def read_line(self) -> str | None:
        """The next line typed (without its newline), or None at the end of input."""
        self._prompt()
        while "\n" not in self._buffer and not self._eof:
            chunk = await self._read()
            if chunk:
                self._buffer += self._decoder.decode(chunk)
            else:
                self._buffer += self._decoder.decode(b"", final=True)
                self._eof = True
        self._prompting = False
        if "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            return line.rstrip("\r")
        if self._buffer:
            line, self._buffer = self._buffer, ""
            return line
        return None

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(self._fd, readable)
        except (PermissionError, ValueError, NotImplementedError):
            # A regular file (`baton shell < script.txt`): reading it never waits long.
            return os.read(self._fd, 65536)
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)
        try:
            return os.read(self._fd, 65536)
        except BlockingIOError:
            return await self._read()

    def _prompt(self) -> None:
        sys.stdout.write(PROMPT)
        sys.stdout.flush()
        self._prompting = True

    def say(self, text: str) -> None:
        """A line of the shell's own (not the bot's)."""
        self._out([text])

    def show(self, reply: Reply) -> None:
        """A reply of the bot, its choices numbered."""
        lines = [f"bot> {reply.text}"]
        lines += [f"     {i}. {label}" for i, (_, label) in enumerate(reply.choices, start=1)]
        self._out(lines)

    def _out(self, lines: list[str]) -> None:
        # A reply arriving while the prompt waits goes above it; the prompt is shown again.
        if self._prompting:
            sys.stdout.write("\r\x1b[K" if self._tty else "\n")
        sys.stdout.write("\n".join(lines) + "\n")
        if self._prompting:
            sys.stdout.write(PROMPT)
        with contextlib.suppress(OSError):
            sys.stdout.flush()
