"""Outgoing webhooks: each event POSTed as JSON to the configured URLs, signed.

The signature header, `Baton-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is the
HMAC-SHA256, keyed with `BATON_WEBHOOK_SECRET`, of `"<t>.<the raw body>"`. A receiver
recomputes it over the raw body, compares in constant time, and refuses a `t` older than
five minutes (a replayed request). `verify` does exactly that.

Each delivery also carries `Baton-Event` (the event's name) and `Baton-Delivery` (the id of
the delivery in the log: the same id on a retry, so a receiver can drop duplicates).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

__all__ = ["SIGNATURE_HEADER", "WebhookError", "body_of", "post", "sign", "verify"]

SIGNATURE_HEADER = "Baton-Signature"
TOLERANCE = 300.0
"""Seconds a signature stays valid (`verify`)."""


class WebhookError(Exception):
    """A webhook was not accepted (not a 2xx, or no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: str, body: bytes, timestamp: float | None = None) -> str:
    """The `Baton-Signature` value of `body` at `timestamp` (now by default)."""
    t = int(time.time() if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE,
) -> bool:
    """Whether `header` is a valid, fresh signature of `body` (for receivers and tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def body_of(event: Mapping[str, Any]) -> bytes:
    """The JSON body of an event's webhook."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


async def post(
    session: aiohttp.ClientSession,
    url: str,
    event: Mapping[str, Any],
    *,
    secret: str | None,
    delivery_id: int,
    timeout: float = 10.0,
) -> int:
    """POST `event` to `url`; its HTTP status, or WebhookError when it is not a 2xx."""
    body = body_of(event)
    headers = {
        "Content-Type": "application/json",
        "Baton-Event": str(event.get("name", "")),
        "Baton-Delivery": str(delivery_id),
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        async with session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            await response.read()
            if 200 <= response.status < 300:
                return response.status
            raise WebhookError(f"{url} answered {response.status}", response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WebhookError(f"{url}: {type(exc).__name__}: {exc}") from None
