"""A web chat post -> `Inbound`: a pure function, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import Inbound
from adapters.errors import BadRequest

__all__ = ["MAX_TEXT", "inbound_from_post"]

MAX_TEXT = 4096
"""The longest text the web chat takes in one message."""


def inbound_from_post(
    data: Mapping[str, Any], *, channel: str, message_id: str, identity: str
) -> Inbound:
    """The message of a posted `{"text": ...}` or `{"choice": ...}`; raises `BadRequest`."""
    text, choice = data.get("text"), data.get("choice")
    if not isinstance(text, str | None) or not isinstance(choice, str | None):
        raise BadRequest("text and choice must be strings")
    if not (text or choice) or len(text or "") > MAX_TEXT:
        raise BadRequest(f"send 1-{MAX_TEXT} characters")
    return Inbound(
        channel=channel, message_id=message_id, identity=identity, text=text, choice=choice
    )
