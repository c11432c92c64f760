"""Errors of proactive messages.

ProactiveError
├── UnknownCustomer   no customer has this id (the API answers 404)
└── BadMessage        empty or huge text, bad choices, an unknown purpose (400)
"""

from __future__ import annotations

__all__ = ["BadMessage", "ProactiveError", "UnknownCustomer"]


class ProactiveError(Exception):
    """A proactive message could not be recorded."""


class UnknownCustomer(ProactiveError, LookupError):
    """No customer has this id."""

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"no customer {customer_id}")
        self.customer_id = customer_id


class BadMessage(ProactiveError, ValueError):
    """The message or its purpose is not acceptable; the text says what to fix."""
