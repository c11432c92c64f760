"""Platform sends in child processes (BATON_SEND_PROCESSES): the server's side.

Sending a reply through a platform SDK (aiogram's `Bot` call, the twilio and slack clients)
costs a good part of the server's CPU per message. With `send_processes = N` the platform
adapters are pickled when the app is made (plain objects: nothing is started yet), N child
processes (`python -m bot.engine.send_worker`) unpickle them, and each channel's outbox sends go
to a child over its stdin/stdout pipes while the server renders, stores and retries as before.

The pipe protocol is `bot.engine.send_pipe`'s; one running child is a `bot.engine.send_child`
`Child`; this module holds the pool and the outbox's stand-in adapters. A child that dies
fails its sends in flight with a retryable `SendError` and is started again on the next send
(after a pause, which sends wait out, when it died soon after starting). On shutdown the
server closes the children's stdin; each finishes its sends in flight, closes its adapters and
exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from aiohttp import web

from adapters.base import Adapter, Address, Limits, Prompt, Rendered, Sent, Sink
from adapters.errors import AdapterError, SendError
from bot.engine.send_child import Child
from bot.engine.send_pipe import RemoteSendError, decode, encode, frame, read_frame

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
_READY_TIMEOUT = 60.0
_QUICK_DEATH = 5.0
"""A child that stops within this many seconds of starting is started again only after a
pause (1 s, doubling up to 30 s), so a child that cannot run does not restart in a loop."""
_RESTART_DELAY = 1.0
_MAX_RESTART_DELAY = 30.0
_ROOT = str(Path(__file__).resolve().parents[2])
"""The directory holding the `bot` package, on the child's PYTHONPATH."""


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


@dataclass
class _Slot:
    child: Child | None = None
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

    async def _spawn(self, number: int) -> Child:
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
        child = Child(proc, number)
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

    def _child_stopped(self, child: Child) -> None:
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

    async def _child(self, number: int) -> Child | None:
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
                    "to": [to.channel, to.identity, to.route, to.last_inbound],
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
