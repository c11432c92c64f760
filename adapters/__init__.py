"""Channel adapters: Telegram, SMS (Twilio), Slack and the local web and terminal channels.

- `base.py`: the `Adapter` protocol and the normalised types (`Inbound`, `Address`, ...).
- `errors.py`: the adapter error tree.
- `body.py`: reading a webhook's body (size, content type, encoding, JSON depth) with 4xx.
- `registry.py`: the channel registry; every channel is described there once.
- `telegram/`, `twilio/`, `slack/`, `web/`: one package per channel (parse, render, adapter).
- `emulators/`: the platform APIs imitated for tests and the sandbox, each with the customer's
  view of it.
"""

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
