"""The pipe between the server and a send process: frames, messages and errors.

Frames of a 4-byte big-endian length and a body. The server first sends a JSON hello
(`{"path": sys.path, "log_level": ..., "gc_freeze": true}`) and the pickled adapters; the
child tunes its garbage collector as the server does (`bot.gc_tuning`) and answers
`{"ready": [channels]}` (or `{"fatal": message}` and exits). Then JSON both ways:

    server -> child  {"id": 7, "channel": "telegram",
                      "to": [channel, identity, route, last_inbound],
                      "parts": [...]}            a send (`Rendered.parts`, JSON values)
                     {"id": 7, "cancel": true}   the outbox gave up waiting (send timeout)
    child -> server  {"id": 7, "ids": ["1234"]}  sent; the platform's message ids
                     {"id": 7, "error": {"type": "RateLimited" | "Unreachable" | "SendError"
                      | "other", "message", "retryable", "code", "retry_after"}}

The server raises the same `adapters.errors` exceptions the adapter raised in the child
(`remote_error`), so the outbox's retry, back-off, retry-after and unreachable handling are
unchanged.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
from collections.abc import Mapping
from typing import Any

from adapters.errors import RateLimited, SendError, Unreachable

__all__ = [
    "MAX_FRAME",
    "ProtocolError",
    "RemoteSendError",
    "decode",
    "encode",
    "error_message",
    "frame",
    "read_frame",
    "remote_error",
]

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
"""A longer frame means the pipe is garbled: the child is stopped."""
_ERROR_TYPES = ("RateLimited", "Unreachable", "SendError", "other")


class ProtocolError(Exception):
    """The pipe carries something that is not a frame of this protocol."""


class RemoteSendError(RuntimeError):
    """The adapter in a send process raised something other than a `SendError`.

    The outbox treats it as it treats any unexpected error: logged, retried with back-off.
    """


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


def remote_error(data: Any) -> Exception:
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
