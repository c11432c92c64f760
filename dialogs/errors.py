"""Errors of the flow API.

Invalid                 an answer failed validation; its message is the re-prompt
FlowError
├── RegistrationError   a flow or trigger is declared wrongly (raised at import time)
├── ReplayMismatch      a flow's code changed so its journal no longer replays
└── MissingAwait        a coroutine was given where its result was meant (an `await` missing)
"""

from __future__ import annotations

__all__ = ["FlowError", "Invalid", "MissingAwait", "RegistrationError", "ReplayMismatch"]


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


class MissingAwait(FlowError, TypeError):
    """A flow gave `say` or `ask` a coroutine, not its result: an `await` is missing.

    Example: `await ctx.say(fetch_text())` where `fetch_text` is `async def` raises
    "ctx.say() got a coroutine: did you forget `await` on fetch_text()?". The coroutine is
    closed, so Python does not also warn that it was never awaited.
    """

    @classmethod
    def given(cls, method: str, coroutine: object) -> MissingAwait:
        """The error for `ctx.<method>()` given `coroutine`, which is closed."""
        name = getattr(coroutine, "__qualname__", None) or getattr(
            coroutine, "__name__", "the coroutine"
        )
        close = getattr(coroutine, "close", None)
        if callable(close):
            close()
        call = method if method.endswith(")") else f"{method}()"
        return cls(f"ctx.{call} got a coroutine: did you forget `await` on {name}()?")
