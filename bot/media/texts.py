"""What customers read when a file they sent is refused."""

from __future__ import annotations

__all__ = ["refused"]

_TEXTS = {
    "too_large": "Sorry, that file is too large for me (the limit is {limit}). Could you send a "
    "smaller one?",
    "type": "Sorry, I can't accept that kind of file ({mime}). Could you send it as a photo or "
    "a PDF?",
    "timeout": "Sorry, that file took too long to arrive. Could you send it again?",
}
_FAILED = "Sorry, I couldn't receive that file. Could you send it again?"


def refused(reason: str, *, limit: int, mime: str | None) -> str:
    """The message for a file refused for `reason` ("too_large", "type", "timeout", ...)."""
    size = f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit / 1000:g} kB"
    return _TEXTS.get(reason, _FAILED).format(limit=size, mime=mime or "unknown type")
