"""Errors raised by channel adapters.

AdapterError
├── SignatureError        the request is not from the platform (answered 401/403)
├── BadRequest            the request is malformed (answered 400/413/415)
├── FetchRefused          a customer's file was not fetched: `reason` says why
└── SendError             a send failed; `retryable` says whether to try again
    ├── RateLimited       the platform asked us to wait `retry_after` seconds
    └── Unreachable       the customer cannot be reached on this identity
                          (blocked the bot, opted out): never retried
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "BadRequest",
    "FetchRefused",
    "RateLimited",
    "SendError",
    "SignatureError",
    "Unreachable",
]


class AdapterError(Exception):
    """Base of every adapter error."""


class SignatureError(AdapterError):
    """The webhook failed verification: wrong, missing or stale signature or secret."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class BadRequest(AdapterError):
    """The webhook body cannot be understood."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class FetchRefused(AdapterError):
    """A file the customer sent was not fetched: too large, not on the platform's host, or
    the platform would not give it. `reason` is a short code ("too_large", "foreign_host",
    "failed"); the message says what happened."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class SendError(AdapterError):
    """A send failed. `retryable=False` means the failure is permanent and is recorded."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class RateLimited(SendError):
    """The platform answered 429; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retryable=True, code="429")
        self.retry_after = retry_after


class Unreachable(SendError):
    """The identity cannot receive messages (blocked the bot, sent STOP): stop sending."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, retryable=False, code=code)
