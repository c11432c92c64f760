"""What every API handler shares: authentication, the body, inputs and the visibility rule.

The body is read by the shared reader (`adapters.body`), so JSON nested too deep, a body over
the size limit, a wrong content type or bytes that are not UTF-8 are refused with the API's
JSON error and a 400, 413 or 415, never a 500. A lone surrogate (the JSON escape `"\\ud800"`)
becomes U+FFFD, as storage stores it, so no handler meets text that neither the database
drivers nor the password hasher can encode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from adapters.body import check_content_type, parse_json, read_raw
from bot.console import auth
from bot.console.auth import Principal, fail
from bot.console.core import CONSOLE, Console
from bot.console.policy import can_see
from storage import Access, ConsoleConflict
from storage.types import encodable

__all__ = [
    "MAX_BODY",
    "MAX_NAME",
    "MAX_TEXT",
    "Handler",
    "admin_only",
    "authed",
    "json_body",
    "optional_int",
    "path_id",
    "required_text",
    "visible",
]

MAX_TEXT = 4000
MAX_NAME = 100
MAX_BODY = 256 * 1024
"""The largest body the API reads: a 4,000-character text, every character a JSON escape of
an emoji, is under 50 KiB."""
_CONFLICT_STATUS = {"not_found": 404, "unknown_agent": 400}
_BODY_CODES = {400: "bad_json", 413: "too_large", 415: "json_only"}

Handler = Callable[[web.Request, Console, Principal], Awaitable[web.StreamResponse]]


def authed(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`fn` as a route handler: called with the console and the authenticated agent."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        console = request.app[CONSOLE]
        principal = await auth.authenticate(console, request)
        try:
            return await fn(request, console, principal)
        except ConsoleConflict as conflict:
            fail(_CONFLICT_STATUS.get(conflict.code, 409), conflict.code, str(conflict))

    return wrapped


def admin_only(principal: Principal) -> None:
    """Refuse (403) unless `principal` is an admin."""
    if not principal.admin:
        fail(403, "forbidden", "only admins may do this")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; refused with the API's JSON error when it cannot be read."""
    try:
        check_content_type(request, "application/json")
        raw = await read_raw(request, max_bytes=MAX_BODY)
        data = parse_json(request, raw)
    except web.HTTPClientError as refused:
        fail(refused.status, _BODY_CODES.get(refused.status, "bad_json"), refused.text or "")
    if not isinstance(data, dict):
        fail(400, "bad_json", "send a JSON object")
    # Only a \u escape can make a surrogate: UTF-8 bytes cannot, and the parser refuses them.
    return _encodable(data) if b"\\u" in raw else data


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value


def required_text(data: Mapping[str, Any], name: str, limit: int = MAX_TEXT) -> str:
    """The non-empty string `data[name]`, stripped, at most `limit` characters."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        fail(400, "invalid", f"{name} must be a non-empty string")
    if len(value) > limit:
        fail(400, "invalid", f"{name} is longer than {limit} characters")
    return value.strip()


def optional_int(data: Mapping[str, Any], name: str) -> int | None:
    """The integer `data[name]`, or None when it is absent."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        fail(400, "invalid", f"{name} must be an integer")
    return value


def path_id(request: web.Request, name: str = "id") -> int:
    """The numeric id in the path; anything else is a 404."""
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        fail(404, "not_found", "no such conversation")
    return int(raw)


async def visible(console: Console, principal: Principal, conversation_id: int) -> Access:
    """The conversation's access facts, or a 404 when the agent may not see it."""
    access = await console.db.access(conversation_id)
    if access is None or not can_see(access, principal.agent.id, admin=principal.admin):
        # The same answer whether it does not exist or is not theirs: ids reveal nothing.
        fail(404, "not_found", "no such conversation")
    return access
