"""Validators for `ctx.ask(..., validate=...)`.

A validator takes the customer's text and returns the value the flow gets, or raises
`Invalid("message")`; the message is sent as the re-prompt. Write your own the same way.

Example:
    >>> age = await ctx.ask("How old are you?", validate=number)
    >>> when = await ctx.ask("Which day suits you?", validate=date)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import phonenumbers

from dialogs.errors import Invalid

__all__ = ["Invalid", "Validator", "date", "email", "integer", "number", "phone", "yes_no"]

Validator = Callable[[str], Any]

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_YES = {"yes", "y", "yeah", "yep", "sure", "ok", "okay", "ja", "j", "jawel", "true", "1"}
_NO = {"no", "n", "nope", "nee", "neen", "false", "0"}


def number(text: str) -> int | float:
    """A number: "12", "3.5", "3,5"; integers come back as int.

    Example:
        >>> quantity = await ctx.ask("How many?", validate=number)
    """
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise Invalid("Please answer with a number, like 3 or 2.5.") from None
    if not math.isfinite(value):
        raise Invalid("Please answer with a number, like 3 or 2.5.")
    return int(value) if value.is_integer() and "." not in cleaned else value


def integer(text: str) -> int:
    """A whole number.

    Example:
        >>> people = await ctx.ask("For how many people?", validate=integer)
    """
    cleaned = text.strip().replace(" ", "")
    if not re.fullmatch(r"[+-]?\d{1,18}", cleaned):
        raise Invalid("Please answer with a whole number, like 3.")
    return int(cleaned)


def email(text: str) -> str:
    """An e-mail address, lower-cased in its domain.

    Example:
        >>> address = await ctx.ask("What's your e-mail address?", validate=email)
    """
    candidate = text.strip()
    if len(candidate) > 254 or not _EMAIL.match(candidate):
        raise Invalid(
            "That doesn't look like an e-mail address. Please try again, like name@example.com."
        )
    local, _, domain = candidate.rpartition("@")
    return f"{local}@{domain.lower()}"


def phone(text: str, *, region: str | None = None) -> str:
    """A phone number in E.164 form ("+31612345678"), parsed by `phonenumbers`.

    Without a leading "+" the number needs a `region`; bind one with
    `functools.partial(phone, region="NL")`.

    Example:
        >>> number = await ctx.ask("Your mobile number?", validate=phone)
    """
    try:
        parsed = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        raise Invalid(
            "Please send the number with its country code, like +31 6 1234 5678."
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid(
            "That number doesn't look valid. Please include the country code, "
            "like +31 6 1234 5678."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d-%m-%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
)


def date(text: str) -> dt.date:
    """A calendar date: "2026-12-24", "24-12-2026", "24/12/2026", "24 December 2026".

    Day-first for numeric dates. Relative words like "tomorrow" depend on the clock, which
    a replayed flow must not read: compute those inside `ctx.step`.

    Example:
        >>> day = await ctx.ask("Which day?", validate=date)
    """
    cleaned = " ".join(text.replace(",", " ").split())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise Invalid("Please send a date like 24-12-2026.")


def yes_no(text: str) -> bool:
    """Yes or no, in English or Dutch.

    Example:
        >>> ok = await ctx.ask("Shall I book it?", validate=yes_no)
    """
    word = text.strip().strip(".!").casefold()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise Invalid("Please answer yes or no.")
