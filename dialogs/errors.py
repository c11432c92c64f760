"""Errors of the flow API.

Invalid                 an answer failed validation; its message is the re-prompt
FlowError
├── RegistrationError   a flow or trigger is declared wrongly (raised at import time)
└── ReplayMismatch      a flow's code changed so its journal no longer replays
"""

from __future__ import annotations

__all__ = ["FlowError", "Invalid", "RegistrationError", "ReplayMismatch"]


class Invalid(Exception):
    """Raise from a validator to reject an answer; the message is sent as the re-prompt.

    Example:
        >>> def order_number(text: str) -> str:
        ...     digits = "".join(ch for ch in text if ch.isdigit())
        ...     if len(digits) != 8:
        ...         raise Invalid("Order numbers have 8 digits, like 1234 5678.")
        ...     return digits
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FlowError(Exception):
    """Base of errors about flows themselves."""


class RegistrationError(FlowError):
    """A flow, trigger or choice is declared wrongly; raised when the flow is registered."""


class ReplayMismatch(FlowError):
    """The journal of a run does not match what the flow's code does now."""
