"""Column types that behave the same on SQLite and PostgreSQL.

PostgreSQL rejects U+0000 in `text`; SQLite keeps it. `SafeText` escapes NUL reversibly on
PostgreSQL so a customer's message with a NUL byte is stored and read back unchanged on both.
`JSONText` stores JSON as compact text (control characters are escaped, so the text never
holds NUL and needs no `SafeText`). It is written and read with orjson, with the standard
library as the fallback for what orjson would refuse or change, so every value stores and reads
back as through `json.dumps`/`json.loads`.

Text the driver can always encode: a Python string may hold an unpaired surrogate (a JSON
body with `"\\ud800"` decodes to one), which neither SQLite's nor PostgreSQL's driver can
encode as UTF-8. Every `SafeText` and `JSONText` value storage writes goes through `encodable`:
an unpaired surrogate becomes U+FFFD (a surrogate pair held as two code points becomes the
character it encodes); any other text is stored unchanged. ASCII text costs one
`str.isascii` call; other text one regex search.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

__all__ = ["JSONText", "SafeText", "encodable", "escape_nul", "unescape_nul"]

_MARK = "\ue000"  # a private-use character: the escape introducer
_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(value: str) -> str:
    """`value` with each unpaired surrogate replaced by U+FFFD, so any driver can encode it."""
    if value.isascii() or _SURROGATE.search(value) is None:
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


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
        """Replace unpaired surrogates; escape NUL on PostgreSQL."""
        if value is None:
            return None
        value = encodable(value)
        return value if dialect.name == "sqlite" else escape_nul(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Undo the escaping."""
        if value is None or dialect.name == "sqlite":
            return value
        return unescape_nul(value)


# Subclasses of str/int/float/dict/list (json.dumps honours their overrides), datetimes and
# dataclasses (json.dumps refuses them) are passed to orjson's `default`; there is none, so
# orjson raises and the standard library decides, as before. Without OPT_NON_STR_KEYS, dicts
# with non-str keys (json.dumps writes int/float/bool/None keys as strings and refuses others)
# go the same way, as do ints beyond 64 bits, lone surrogates and very deep nesting.
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
# 19 digits in a row mark a number orjson.loads may read as a float (an int below -2**63 or
# from 2**64 has at least 19 digits).
_LONG_RUN = re.compile("[0-9]{19}")


def _dumps(value: Any) -> str:
    """Compact JSON of `value`, read back as `json.dumps(value, separators=(",", ":"),
    ensure_ascii=False)` was; the text itself may differ (orjson writes `1e-7` for `1e-07`).

    One difference: orjson stores plain `Enum` members and `uuid.UUID` values (as their value
    and their canonical string), which json.dumps refused with TypeError; as keys they are
    still refused."""
    try:
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        pass
    else:
        if b"null" not in data:
            return data.decode()
        # orjson writes NaN and ±Infinity as null; json.dumps keeps them (NaN, Infinity).
    # Here too go lone surrogates, which json.dumps keeps and no driver can encode.
    return encodable(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _loads(text: str) -> Any:
    """`json.loads(text)`, faster: rows written by `json.dumps` and by `_dumps` alike."""
    if _LONG_RUN.search(text):
        return json.loads(text)  # orjson.loads turns ints beyond 64 bits into floats
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, Infinity, 1e400, lone surrogates: the stdlib's
        return json.loads(text)


class JSONText(TypeDecorator[Any]):
    """JSON kept as compact text; identical on SQLite and PostgreSQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Encode as compact JSON."""
        if value is None:
            return None
        return _dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Decode the JSON."""
        if value is None:
            return None
        return _loads(value)
