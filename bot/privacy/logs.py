"""Logs without personal data.

Baton's log lines at INFO and above carry ids (customer, inbox, outbox, identity row), never
a message's text, a phone number, an email address or a name. Where a line must show text it
did not write itself (a platform's error message, a refused request), it goes through
`scrub`, which replaces phone numbers and email addresses; the text itself is logged only at
DEBUG.

`BATON_LOG_LEVEL=DEBUG` is the switch for developers: DEBUG lines may contain personal data
(request bodies, send requests). Do not run production at DEBUG.

`install` adds `PersonalDataFilter` to the root logger's handlers (`baton run` does), so a
library's own log line (aiohttp, an SDK) at INFO and above is scrubbed too.
"""

from __future__ import annotations

import logging
import re

__all__ = ["PersonalDataFilter", "install", "scrub"]

_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{7,}\d")
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")


def scrub(text: str) -> str:
    """`text` with phone numbers and email addresses replaced by placeholders."""
    return _EMAIL.sub("<email>", _PHONE.sub("<phone>", text))


class PersonalDataFilter(logging.Filter):
    """Scrubs phone numbers and email addresses from records at INFO and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message, scrubbed; never drops a record."""
        if record.levelno >= logging.INFO:
            message = record.getMessage()
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


def install(level: str) -> None:
    """Scrub what the root logger's handlers write, unless `level` is DEBUG."""
    if level == "DEBUG":
        return
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
