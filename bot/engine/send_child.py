"""One running send process, as the server sees it: its pipes and the sends in flight on it.

`SendProcesses` (`bot.engine.send_process`) starts children and routes sends to them; a
`Child` writes each request to the child's stdin, hands each answer read from its stdout to
the send waiting for it, and fails the sends in flight when the child stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from adapters.base import Sent
from adapters.errors import AdapterError, SendError
from bot.engine.send_pipe import ProtocolError, decode, encode, read_frame, remote_error

__all__ = ["Child"]

log = logging.getLogger("baton.send")


class Child:
    """One running send process and the sends in flight on it."""

    def __init__(self, proc: asyncio.subprocess.Process, number: int) -> None:
        self.proc = proc
        self.number = number
        self.started = time.monotonic()
        self.alive = True
        self.stopping = False
        self.ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self.pending: dict[int, asyncio.Future[Sent]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.on_stop: list[Callable[[Child], None]] = []

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def __repr__(self) -> str:
        return f"send process {self.number} (pid {self.pid})"

    async def request(self, rid: int, message: bytes) -> Sent:
        """Write the encoded send `message` (id `rid`) and wait for the child's answer."""
        if not self.alive or self.proc.stdin is None:
            raise SendError("send process stopped", retryable=True, code="send_process")
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        try:
            self.proc.stdin.write(message)
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError, OSError) as exc:
            # The child is gone; its stdout's EOF fails the sends in flight.
            if self.pending.pop(rid, None) is not None:
                raise SendError(
                    f"send process stopped: {exc!r}", retryable=True, code="send_process"
                ) from None
        except asyncio.CancelledError:
            self._cancel(rid)
            raise
        try:
            return await future
        except asyncio.CancelledError:
            self._cancel(rid)
            raise

    def _cancel(self, rid: int) -> None:
        """The outbox stopped waiting (its send timeout, or shutdown): the child stops too."""
        if self.pending.pop(rid, None) is None or not self.alive or self.proc.stdin is None:
            return
        with contextlib.suppress(Exception):
            self.proc.stdin.write(encode({"id": rid, "cancel": True}))

    async def read(self) -> None:
        """Hand each answer to its send, until the child's stdout ends."""
        stdout = self.proc.stdout
        assert stdout is not None
        trouble: str | None = None
        try:
            while True:
                body = await read_frame(stdout)
                if body is None:
                    break
                self._answer(body)
        except ProtocolError as exc:
            trouble = str(exc)
            log.error("%s: %s; stopping it", self, exc)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        except Exception as exc:
            trouble = repr(exc)
            log.exception("%s: reading its answers failed; stopping it", self)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        finally:
            self._stopped(trouble)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.proc.wait()
        if not self.stopping or self.proc.returncode not in (0, None):
            log.error(
                "%s stopped (exit code %s)%s",
                self,
                self.proc.returncode,
                "" if self.stopping else "; it is started again for the next send",
            )

    def _stopped(self, trouble: str | None) -> None:
        self.alive = False
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(
                    SendError("send process stopped", retryable=True, code="send_process")
                )
        if pending:
            log.warning("%s stopped with %d sends in flight; they are retried", self, len(pending))
        if not self.ready.done():
            self.ready.set_exception(
                AdapterError(
                    f"the send process did not start: {trouble or 'it exited'} (its log is above)"
                )
            )
        for callback in self.on_stop:
            callback(self)

    def _answer(self, body: bytes) -> None:
        try:
            message = decode(body)
        except ProtocolError as exc:
            log.warning("%s: a malformed answer ignored: %s", self, exc)
            return
        if "ready" in message or "fatal" in message:
            if self.ready.done():
                log.warning("%s: an unexpected %s ignored", self, sorted(message))
            elif "fatal" in message:
                self.ready.set_exception(
                    AdapterError(f"the send process could not start: {message['fatal']}")
                )
            else:
                channels = message["ready"]
                self.ready.set_result(list(channels) if isinstance(channels, list) else [])
            return
        rid = message.get("id")
        future = self.pending.pop(rid, None) if isinstance(rid, int) else None
        if future is None:
            # A send the outbox stopped waiting for, or something that is no answer at all.
            log.debug("%s: an answer to no send in flight ignored: %.200s", self, message)
            return
        if future.done():
            return
        ids = message.get("ids")
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            future.set_result(Sent(tuple(ids)))
        elif "error" in message:
            future.set_exception(remote_error(message["error"]))
        else:
            log.warning("%s: a malformed answer to send %s (keys %s)", self, rid, sorted(message))
            future.set_exception(
                SendError(
                    "a malformed answer from the send process",
                    retryable=True,
                    code="send_process",
                )
            )

    async def stop(self, timeout: float) -> None:
        """Close its stdin: it finishes its sends, closes its adapters and exits; or is killed."""
        self.stopping = True
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await self.proc.wait()
        except TimeoutError:
            log.warning("%s did not exit within %gs; killed", self, timeout)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            await self.reader
