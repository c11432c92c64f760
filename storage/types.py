"""Column types that behave the same on SQLite and PostgreSQL.

PostgreSQL rejects U+0000 in `text`; SQLite keeps it. `SafeText` escapes NUL reversibly on
PostgreSQL so a customer's message with a NUL byte is stored and read back unchanged on both.
`JSONText` stores JSON as compact text (control characters are escaped by `json.dumps`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

__all__ = ["JSONText", "SafeText", "escape_nul", "unescape_nul"]

_MARK = "\ue000"  # a private-use character: the escape introducer


def escape_nul(value: str) -> str:
    """Make `value` storable in PostgreSQL text, reversibly."""
    if _MARK in value:
        value = value.replace(_MARK, _MARK + _MARK)
    if "\x00" in value:
        value = value.replace("\x00", _MARK + "0")
    return value


def unescape_nul(value: str) -> str:
    """The inverse of `escape_nul`."""
    if _MARK not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == _MARK and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\x00" if nxt == "0" else nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class SafeText(TypeDecorator[str]):
    """Text that may contain NUL on every backend."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Escape NUL on PostgreSQL."""
        if value is None or dialect.name == "sqlite":
            return value
        return escape_nul(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Undo the escaping."""
        if value is None or dialect.name == "sqlite":
            return value
        return unescape_nul(value)


class JSONText(TypeDecorator[Any]):
    """JSON kept as compact text; identical on SQLite and PostgreSQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Encode as compact JSON."""
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Decode the JSON."""
        if value is None:
            return None
        return json.loads(value)
