"""A send process (BATON_SEND_PROCESSES): `python -m bot.engine.send_worker`, started by the
server (`bot.engine.send_process`), never by hand.

It reads the hello and the pickled adapters from stdin, then sends each request with the
adapter of its channel, concurrently (a task per request), and writes each answer to stdout.
The adapters are never started (no webhook registration, no polling): only what `send` needs
is made, by the adapter itself on first use or by its `prepare_send()`. At the end of stdin
(the server closes it, or died) it finishes the sends in flight, closes the adapters and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
from collections.abc import Mapping
from typing import IO, Any

from adapters.base import Adapter, Address, Rendered
from adapters.errors import SendError
from bot.engine.send_pipe import ProtocolError, decode, encode, error_message, read_frame
from bot.event_loop import run
from bot.gc_tuning import tune_for_serving

log = logging.getLogger("baton.send.worker")

__all__ = ["main"]


class _Worker:
    def __init__(self, adapters: Mapping[str, Adapter], writer: asyncio.StreamWriter) -> None:
        self.adapters = adapters
        self.writer = writer
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def take(self, body: bytes) -> None:
        """Start the send (or cancel) one frame asks for; log and skip anything malformed."""
        try:
            message = decode(body)
        except ProtocolError as exc:
            log.warning("a malformed request ignored: %s", exc)
            return
        rid = message.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            log.warning("a request without an id ignored (keys %s)", sorted(message))
            log.debug("the request: %.200s", message)
            return
        if message.get("cancel") is True:
            task = self.tasks.get(rid)
            if task is not None:
                task.cancel()
            return
        try:
            to, parts = message["to"], message["parts"]
            if not (
                isinstance(to, list)
                and len(to) in (3, 4)
                and all(isinstance(v, str) for v in to[:2])
                and (to[2] is None or isinstance(to[2], str))
                and (len(to) == 3 or to[3] is None or isinstance(to[3], (int, float)))
                and isinstance(parts, list)
                and all(isinstance(p, dict) for p in parts)
            ):
                raise TypeError("to/parts have the wrong shape")
            adapter = self.adapters[str(message["channel"])]
        except (KeyError, TypeError) as exc:
            log.warning("a malformed request %s refused (%s)", rid, type(exc).__name__)
            log.debug("the request: %.200s", message)
            refusal = SendError(
                f"the send process cannot read this request: {exc!r}",
                retryable=False,
                code="send_process",
            )
            self._write({"id": rid, "error": error_message(refusal)})
            return
        if rid in self.tasks:
            log.warning("request %s is already being sent; the repeat is ignored", rid)
            return
        task = asyncio.get_running_loop().create_task(
            self._send(
                rid,
                adapter,
                Address(to[0], to[1], to[2], to[3] if len(to) > 3 else None),
                Rendered(tuple(parts)),
            ),
            name=f"baton-send-{rid}",
        )
        self.tasks[rid] = task
        task.add_done_callback(lambda _: self.tasks.pop(rid, None))

    async def _send(self, rid: int, adapter: Adapter, to: Address, rendered: Rendered) -> None:
        try:
            sent = await adapter.send(to, rendered)
        except asyncio.CancelledError:
            return  # the server stopped waiting; it wants no answer
        except Exception as exc:
            if not isinstance(exc, SendError):
                log.exception("send %s on %s failed unexpectedly", rid, adapter.channel)
            answer: dict[str, Any] = {"id": rid, "error": error_message(exc)}
        else:
            answer = {"id": rid, "ids": [str(i) for i in sent.platform_ids]}
        self._write(answer)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def _write(self, answer: Mapping[str, Any]) -> None:
        if self.writer.is_closing():
            log.warning("the server is gone; the answer to send %s is lost", answer.get("id"))
            return
        self.writer.write(encode(answer))

    async def finish(self) -> None:
        """Wait for the sends in flight."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks.values()), return_exceptions=True)


async def _serve(proto_in: IO[bytes], proto_out: IO[bytes]) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**16)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proto_in)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, proto_out
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        hello_body = await read_frame(reader)
        if hello_body is None:
            return 0  # the server went away before it said anything
        hello = decode(hello_body)
        for entry in reversed(hello.get("path") or []):
            if isinstance(entry, str) and entry not in sys.path:
                sys.path.insert(0, entry)
        level = hello.get("log_level")
        if isinstance(level, int):
            logging.getLogger().setLevel(level)
        pickled = await read_frame(reader)
        if pickled is None:
            return 0
        adapters: dict[str, Adapter] = {a.channel: a for a in pickle.loads(pickled)}
        for adapter in adapters.values():
            prepare = getattr(adapter, "prepare_send", None)
            if prepare is not None:
                await prepare()
        if hello.get("gc_freeze") is True:
            # A full collection over aiogram's and pydantic's objects paused every send in
            # flight (the benchmark's p99 tripled); as in the server, see bot.gc_tuning.
            tune_for_serving()
    except Exception as exc:
        log.exception("the send process cannot start")
        with contextlib.suppress(Exception):
            writer.write(encode({"fatal": f"{type(exc).__name__}: {exc}"}))
            await writer.drain()
        return 1
    writer.write(encode({"ready": sorted(adapters)}))
    log.debug("send process %d ready for %s", os.getpid(), ", ".join(sorted(adapters)))
    worker = _Worker(adapters, writer)
    code = 0
    try:
        while True:
            try:
                body = await read_frame(reader)
            except ProtocolError as exc:
                log.error("garbled input from the server (%s); stopping", exc)
                code = 1
                break
            if body is None:
                break
            worker.take(body)
        await worker.finish()
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    finally:
        for adapter in adapters.values():
            try:
                await adapter.aclose()
            except Exception:
                log.exception("closing the %s adapter failed", adapter.channel)
        writer.close()
    return code


def main() -> int:
    """Serve the server on the pipes this process was started with."""
    # Ctrl-C in a terminal reaches the whole process group: the server shuts down gracefully
    # and closes our stdin, which is how this process stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s [send %(process)d]: %(message)s",
    )
    # The protocol gets its own descriptors; whatever a library prints to stdout goes to
    # stderr instead of corrupting it, and nothing else reads our stdin.
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return run(_serve(proto_in, proto_out), os.environ.get("BATON_EVENT_LOOP", "auto"))


if __name__ == "__main__":
    sys.exit(main())
