"""Reading a webhook's body: size, content type, encoding and JSON depth, refused with a 4xx.

Every endpoint that takes a body from outside (the Telegram and Slack webhooks, the web chat)
reads it here, so a body that is too large (413), of the wrong content type (415), not text in
its declared encoding, not JSON, or JSON nested deeper than `MAX_DEPTH` (400) is refused with a
clear, logged answer, never a 500. Deep nesting is checked before any parser sees the body:
`json.loads` raises `RecursionError` at about 1,000 levels, which escaped the handlers.

The pieces compose: `read_raw` (size) -> the caller's check on the raw bytes (Slack verifies its
signature on exactly these bytes) -> `check_content_type` -> `decode` -> `parse_json`.
`read_json` does all of it for the common case. Only `web.Request` is needed, no app context.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, NoReturn

import pydantic_core
from aiohttp import web

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "check_content_type",
    "decode",
    "json_too_deep",
    "parse_json",
    "read_json",
    "read_raw",
]

log = logging.getLogger("baton.body")

MAX_BYTES = 1024**2
"""The largest body read by default (aiohttp's own default `client_max_size`)."""
MAX_DEPTH = 64
"""The deepest nesting of JSON arrays and objects accepted; platform payloads use under 10."""

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


async def read_raw(request: web.Request, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The raw body, at most `max_bytes`; raises 413 (logged) when it is longer."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        _refuse(request, 413, f"body of {declared} bytes is over {max_bytes}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        _refuse(request, 413, f"body over the server's {request.client_max_size} bytes")
    if len(raw) > max_bytes:
        _refuse(request, 413, f"body of {len(raw)} bytes is over {max_bytes}")
    return raw


def check_content_type(request: web.Request, expected: str) -> None:
    """Raise 415 (logged) unless the request says `expected` (parameters aside), in UTF-8."""
    if request.content_type != expected:
        _refuse(request, 415, f"content type {request.content_type!r}, send {expected}")
    charset = request.charset
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        _refuse(request, 415, f"charset {charset!r}, send UTF-8")


def decode(request: web.Request, raw: bytes) -> str:
    """`raw` as UTF-8 text; raises 400 (logged) when it is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(request, 400, "the body is not UTF-8 text")


def json_too_deep(body: bytes | str, max_depth: int = MAX_DEPTH) -> bool:
    """Whether the JSON text `body` nests arrays and objects deeper than `max_depth`.

    Cheap for ordinary bodies: when the body holds no more brackets than `max_depth` at all
    (counted by `bytes.count`, an upper bound in UTF-8 and UTF-16 alike), it cannot be deeper.
    Otherwise the brackets outside strings are followed; bytes are decoded as `json.loads`
    would (UTF-8, -16 or -32), and what cannot be decoded is left to the parser to refuse.
    """
    if isinstance(body, bytes):
        if body.count(b"[") + body.count(b"{") <= max_depth:
            return False
        try:
            body = body.decode(json.detect_encoding(body))
        except (UnicodeDecodeError, LookupError):
            return False
    elif body.count("[") + body.count("{") <= max_depth:
        return False
    depth = 0
    for token in _TOKENS.finditer(body):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif mark in "]}":
            depth -= 1
    return False


def parse_json(request: web.Request, body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `body`; raises 400 (logged) when it is not JSON or nests too deep."""
    if json_too_deep(body, max_depth):
        _refuse(request, 400, f"JSON nested deeper than {max_depth} levels")
    try:
        # pydantic-core's parser is several times faster than json.loads; what it refuses
        # (a BOM, UTF-16, lone surrogates) json.loads still decides, so nothing is lost.
        return pydantic_core.from_json(body)
    except ValueError:
        pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        _refuse(request, 400, "the body is not JSON")


async def read_json(
    request: web.Request,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> dict[str, Any]:
    """A JSON object posted as `application/json`; raises 413, 415 or 400 (logged) if not."""
    check_content_type(request, "application/json")
    raw = await read_raw(request, max_bytes=max_bytes)
    data = parse_json(request, raw, max_depth=max_depth)
    if not isinstance(data, dict):
        _refuse(request, 400, "send a JSON object")
    return data


_ERRORS: dict[int, type[web.HTTPClientError]] = {
    400: web.HTTPBadRequest,
    413: web.HTTPRequestEntityTooLarge,
    415: web.HTTPUnsupportedMediaType,
}


def _refuse(request: web.Request, status: int, reason: str) -> NoReturn:
    log.warning(
        "%s %s from %s refused (%d): %s",
        request.method,
        request.path,
        request.remote,
        status,
        reason,
    )
    error = _ERRORS[status]
    if error is web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.client_max_size, actual_size=request.content_length or 0, text=reason
        )
    raise error(text=reason)
