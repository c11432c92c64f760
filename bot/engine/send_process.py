"""Platform sends in child processes (BATON_SEND_PROCESSES): the server's side.

Sending a reply through a platform SDK (aiogram's `Bot` call, the twilio and slack clients)
costs a good part of the server's CPU per message. With `send_processes = N` the platform
adapters are pickled when the app is made (plain objects: nothing is started yet), N child
processes (`python -m bot.engine.send_worker`) unpickle them, and each channel's outbox sends go
to a child over its stdin/stdout pipes while the server renders, stores and retries as before.

The pipe protocol: frames of a 4-byte big-endian length and a body. The server first sends a
JSON hello (`{"path": sys.path, "log_level": ..., "gc_freeze": true}`) and the pickled adapters;
the child tunes its garbage collector as the server does (`bot.gc_tuning`) and answers
`{"ready": [channels]}` (or `{"fatal": message}` and exits). Then JSON both ways:

    server -> child  {"id": 7, "channel": "telegram", "to": [channel, identity, route],
                      "parts": [...]}            a send (`Rendered.parts`, JSON values)
                     {"id": 7, "cancel": true}   the outbox gave up waiting (send timeout)
    child -> server  {"id": 7, "ids": ["1234"]}  sent; the platform's message ids
                     {"id": 7, "error": {"type": "RateLimited" | "Unreachable" | "SendError"
                      | "other", "message", "retryable", "code", "retry_after"}}

The server raises the same `adapters.errors` exceptions the adapter raised in the child, so
the outbox's retry, back-off, retry-after and unreachable handling are unchanged. A child that
dies fails its sends in flight with a retryable `SendError` and is started again on the next
send (after a pause, which sends wait out, when it died soon after starting). On shutdown the
server closes the children's stdin; each finishes its sends in flight, closes its adapters and
exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import pickle
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

from adapters.base import Adapter, Address, Limits, Prompt, Rendered, Sent, Sink
from adapters.errors import AdapterError, RateLimited, SendError, Unreachable

__all__ = [
    "RemoteAdapter",
    "RemoteSendError",
    "SendProcesses",
    "decode",
    "encode",
    "frame",
    "read_frame",
    "remote_adapters",
]

log = logging.getLogger("baton.send")

WORKER_MODULE = "bot.engine.send_worker"
_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
"""A longer frame means the pipe is garbled: the child is stopped."""
_READY_TIMEOUT = 60.0
_QUICK_DEATH = 5.0
"""A child that stops within this many seconds of starting is started again only after a
pause (1 s, doubling up to 30 s), so a child that cannot run does not restart in a loop."""
_RESTART_DELAY = 1.0
_MAX_RESTART_DELAY = 30.0
_ROOT = str(Path(__file__).resolve().parents[2])
"""The directory holding the `bot` package, on the child's PYTHONPATH."""
_ERROR_TYPES = ("RateLimited", "Unreachable", "SendError", "other")


class ProtocolError(Exception):
    """The pipe carries something that is not a frame of this protocol."""


class RemoteSendError(RuntimeError):
    """The adapter in a send process raised something other than a `SendError`.

    The outbox treats it as it treats any unexpected error: logged, retried with back-off.
    """


# --- framing (shared with the worker) ------------------------------------------------------------


def frame(body: bytes) -> bytes:
    """`body` with its length in front."""
    return _HEADER.pack(len(body)) + body


def encode(message: Mapping[str, Any]) -> bytes:
    """One JSON message as a frame; raises TypeError/ValueError for what JSON cannot hold."""
    return frame(
        json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    )


def decode(body: bytes) -> dict[str, Any]:
    """A frame's JSON object; raises `ProtocolError` when it is not one."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON ({len(body)} bytes): {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"not a JSON object: {type(message).__name__}")
    return message


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body; None at a clean end of the stream.

    Raises:
        ProtocolError: the stream ends inside a frame, or a length is absurd.
    """
    try:
        head = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("the stream ended inside a frame header") from None
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"a frame of {size} bytes (more than {MAX_FRAME}): garbled pipe")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError("the stream ended inside a frame") from None


def error_message(exc: BaseException) -> dict[str, Any]:
    """How the worker reports a failed send (see the module docstring)."""
    if isinstance(exc, SendError):
        kind = (
            "RateLimited"
            if isinstance(exc, RateLimited)
            else "Unreachable"
            if isinstance(exc, Unreachable)
            else "SendError"
        )
        return {
            "type": kind,
            "message": str(exc),
            "retryable": exc.retryable,
            "code": exc.code,
            "retry_after": exc.retry_after if isinstance(exc, RateLimited) else None,
        }
    return {
        "type": "other",
        "message": f"{type(exc).__name__}: {exc}",
        "retryable": True,
        "code": None,
        "retry_after": None,
    }


def _error(data: Any) -> Exception:
    """The exception a worker's error report stands for."""
    if not isinstance(data, dict) or data.get("type") not in _ERROR_TYPES:
        return SendError(f"a malformed error from the send process: {data!r:.200}", retryable=True)
    kind, message = data["type"], str(data.get("message") or "")
    code = data.get("code")
    code = str(code) if code is not None else None
    if kind == "RateLimited":
        wait = data.get("retry_after")
        if not isinstance(wait, int | float) or isinstance(wait, bool) or not math.isfinite(wait):
            wait = 1.0
        return RateLimited(message, retry_after=max(0.0, float(wait)))
    if kind == "Unreachable":
        return Unreachable(message, code=code)
    if kind == "SendError":
        return SendError(message, retryable=data.get("retryable") is not False, code=code)
    return RemoteSendError(message)


# --- which adapters go to the children -----------------------------------------------------------


def remote_adapters(adapters: Iterable[Adapter]) -> tuple[list[Adapter], bytes]:
    """The adapters whose sends can run in a child process, and their pickle.

    Call it before anything touches the adapters (`routes`, `start`): then they are plain
    objects. The local channels (the web chat, the shell) stay: their `send` writes to this
    process's memory. An adapter that cannot be pickled stays too, with a warning.
    """
    from adapters.web import LocalAdapter

    chosen: list[Adapter] = []
    for adapter in adapters:
        if adapter.channel == "web" or isinstance(adapter, LocalAdapter):
            continue
        try:
            pickle.dumps(adapter)
        except Exception as exc:
            log.warning(
                "BATON_SEND_PROCESSES: the %s adapter (%s) cannot be pickled, so it sends from "
                "the server process: %s",
                adapter.channel,
                type(adapter).__name__,
                exc,
            )
            continue
        chosen.append(adapter)
    return chosen, pickle.dumps(chosen) if chosen else b""


class RemoteAdapter:
    """What the outbox sees of a channel whose sends run in a send process.

    `render` is the real adapter's (pure, cheap); `send` goes to a child. Made per channel by
    `SendProcesses.adapter`, a subclass carrying the channel's name and limits.
    """

    channel: ClassVar[str] = ""
    limits: ClassVar[Limits]

    def __init__(self, local: Adapter, processes: SendProcesses) -> None:
        self.local = local
        self._processes = processes

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """None: the real adapter serves the webhooks."""
        return ()

    async def start(self) -> None:
        """Nothing: the real adapter is started by the app."""

    def render(self, prompt: Prompt) -> Rendered:
        """The real adapter's rendering."""
        return self.local.render(prompt)

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Send through a send process; raises what the adapter raised there."""
        return await self._processes.send(self.channel, to, rendered)

    async def aclose(self) -> None:
        """Nothing: `SendProcesses.close` stops the children."""


# --- one child -----------------------------------------------------------------------------------


class _Child:
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
        self.on_stop: list[Callable[[_Child], None]] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __repr__(self) -> str:
        return f"send process {self.number} (pid {self.pid})"

    async def request(self, rid: int, message: bytes) -> Sent:
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
            future.set_exception(_error(message["error"]))
        else:
            log.warning("%s: a malformed answer to send %s: %.200s", self, rid, message)
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


@dataclass
class _Slot:
    child: _Child | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    quick_deaths: int = 0
    not_before: float = 0.0


# --- the pool ------------------------------------------------------------------------------------


class SendProcesses:
    """N child processes making the platform calls of the given adapters.

    Args:
        adapters: The adapters to send through (see `remote_adapters`).
        pickled: Their pickle, made before anything touched them.
        count: How many processes (BATON_SEND_PROCESSES).
        stop_timeout: Seconds a child gets to finish its sends at shutdown before it is killed.
        gc_freeze: Children tune their garbage collector once their adapters are ready
            (BATON_GC_FREEZE; see `bot.gc_tuning`).
        event_loop: The children's event loop (BATON_EVENT_LOOP; see `bot.event_loop`).

    Example:
        >>> chosen, pickled = remote_adapters(adapters)
        >>> processes = SendProcesses(chosen, pickled, 2)
        >>> await processes.start()
        >>> outbox_adapters = {a.channel: processes.adapter(a) for a in chosen}
    """

    def __init__(
        self,
        adapters: Sequence[Adapter],
        pickled: bytes,
        count: int,
        *,
        stop_timeout: float = 5.0,
        gc_freeze: bool = True,
        event_loop: str = "auto",
    ) -> None:
        if count < 1:
            raise ValueError("at least one send process")
        self.channels = tuple(a.channel for a in adapters)
        self._pickled = pickled
        self._slots = [_Slot() for _ in range(count)]
        self.stop_timeout = stop_timeout
        self.gc_freeze = gc_freeze
        self.event_loop = event_loop
        self._ids = 0
        self._closing = False

    def adapter(self, local: Adapter) -> Adapter:
        """The outbox's stand-in for `local`: renders locally, sends through a child."""
        cls = type(
            f"Remote{type(local).__name__}",
            (RemoteAdapter,),
            {"channel": local.channel, "limits": local.limits},
        )
        remote: RemoteAdapter = cls(local, self)
        return remote

    @property
    def pids(self) -> list[int | None]:
        """The process id of each running child (None where none runs)."""
        return [s.child.pid if s.child and s.child.alive else None for s in self._slots]

    async def start(self) -> None:
        """Start every child and wait until each has loaded the adapters.

        Raises:
            AdapterError: a child could not start (the reason is logged by the child).
        """
        try:
            children = [await self._spawn(number) for number in range(len(self._slots))]
            for slot, child in zip(self._slots, children, strict=True):
                slot.child = child
            async with asyncio.timeout(_READY_TIMEOUT):
                for child in children:
                    await child.ready
        except TimeoutError:
            await self.close()
            raise AdapterError(
                f"the send processes did not start within {_READY_TIMEOUT:g}s"
            ) from None
        except BaseException:
            await self.close()
            raise
        log.info(
            "%d send process%s for %s (pids %s)",
            len(children),
            "" if len(children) == 1 else "es",
            ", ".join(self.channels),
            ", ".join(str(c.pid) for c in children),
        )

    async def _spawn(self, number: int) -> _Child:
        env = dict(os.environ)
        # The child imports this package first; the pickled adapters' modules come from the
        # sys.path sent in the hello.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        # The child's loop runs before the hello arrives.
        env["BATON_EVENT_LOOP"] = self.event_loop
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # inherited: its log lines go where the server's go
            env=env,
        )
        child = _Child(proc, number)
        child.on_stop.append(self._child_stopped)
        assert proc.stdin is not None
        hello = {
            "path": sys.path,
            "log_level": logging.getLogger().getEffectiveLevel(),
            "gc_freeze": self.gc_freeze,
        }
        proc.stdin.write(encode(hello) + frame(self._pickled))
        child.reader = asyncio.get_running_loop().create_task(
            child.read(), name=f"baton-send-process-{number}"
        )
        # Nobody may await `ready` after a restart; don't warn about its exception then.
        child.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        return child

    def _child_stopped(self, child: _Child) -> None:
        slot = self._slots[child.number]
        if child.stopping or self._closing:
            return
        if time.monotonic() - child.started < _QUICK_DEATH:
            slot.quick_deaths += 1
            delay = min(_MAX_RESTART_DELAY, _RESTART_DELAY * 2 ** (slot.quick_deaths - 1))
            slot.not_before = time.monotonic() + delay
            log.warning("%s stopped soon after it started; next start in %.0fs", child, delay)
        else:
            slot.quick_deaths = 0
            slot.not_before = 0.0

    async def _child(self, number: int) -> _Child | None:
        """Slot `number`'s running child, started again if it stopped; None while it waits
        out a restart pause."""
        slot = self._slots[number]
        child = slot.child
        if child is not None and child.alive:
            return child
        async with slot.lock:
            child = slot.child
            if child is not None and child.alive:
                return child
            if self._closing:
                raise SendError("the send processes are stopping", retryable=True)
            if time.monotonic() < slot.not_before:
                return None
            slot.child = child = await self._spawn(number)
            log.info("%s started", child)
            return child

    async def send(self, channel: str, to: Address, rendered: Rendered) -> Sent:
        """Send `rendered` through a child; raises what the adapter raised there.

        One recipient's sends go to the same child (a hash of the address), so per-recipient
        state kept by an adapter (Twilio's record of a half-sent multi-part reply, Slack's DM
        channels) is found again on a retry. A child waiting out a restart pause passes its
        sends to the next one.
        """
        if channel not in self.channels:
            raise SendError(f"channel {channel!r} has no send process", retryable=False)
        try:
            message_parts = [dict(part) for part in rendered.parts]
            self._ids += 1
            rid = self._ids
            message = encode(
                {
                    "id": rid,
                    "channel": channel,
                    "to": [to.channel, to.identity, to.route],
                    "parts": message_parts,
                }
            )
        except (TypeError, ValueError) as exc:
            raise SendError(
                f"this {channel} reply cannot be passed to a send process (not JSON): {exc}",
                retryable=False,
                code="render",
            ) from None
        count = len(self._slots)
        first = zlib.crc32(f"{channel}\0{to.identity}".encode()) % count
        while True:
            for step in range(count):
                child = await self._child((first + step) % count)
                if child is not None:
                    return await child.request(rid, message)
            # Every child waits out a restart pause; the outbox's send timeout bounds this.
            await asyncio.sleep(
                max(0.01, min(s.not_before for s in self._slots) - time.monotonic())
            )

    async def close(self) -> None:
        """Stop every child: each finishes its sends in flight (up to `stop_timeout`)."""
        self._closing = True
        children = [s.child for s in self._slots if s.child is not None]
        for slot in self._slots:
            slot.child = None
        await asyncio.gather(
            *(child.stop(self.stop_timeout) for child in children), return_exceptions=True
        )
