"""Channel adapters: Telegram, SMS (Twilio), Slack and the local web and terminal channels."""

from __future__ import annotations

from adapters.base import (
    Adapter,
    Address,
    DeliveryUpdate,
    Inbound,
    Limits,
    Location,
    Rendered,
    Sent,
    Sink,
)
from adapters.errors import (
    AdapterError,
    BadRequest,
    RateLimited,
    SendError,
    SignatureError,
    Unreachable,
)

__all__ = [
    "Adapter",
    "AdapterError",
    "Address",
    "BadRequest",
    "DeliveryUpdate",
    "Inbound",
    "Limits",
    "Location",
    "RateLimited",
    "Rendered",
    "SendError",
    "Sent",
    "SignatureError",
    "Sink",
    "Unreachable",
]
