"""The JSON column type: orjson underneath, the standard library's behaviour on top."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from collections import OrderedDict, namedtuple
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.types import JSONText

DIALECTS = [sqlite.dialect(paramstyle="named"), make_url("postgresql+asyncpg://").get_dialect()()]


class Colour(enum.IntEnum):
    RED = 1


class Word(enum.StrEnum):
    HELLO = "hello"


class Upper(str):
    pass


class Counted(dict[str, Any]):
    pass


Pair = namedtuple("Pair", "a b")


@dataclasses.dataclass
class Point:
    x: int


ODD_TEXT = [
    "nul \x00 byte",
    "all controls " + "".join(chr(c) for c in range(32)) + "\x7f",
    "emoji 🙂👩‍👩‍👧 and a flag 🇳🇱",
    "עברית וערבית عربي\u200f mixed RTL",
    "\ue000 private use \ue0000",
    "line\u2028separator\u2029paragraph",
    "<b>html</b> & 'quotes' \"double\" \\backslash/",
    "x" * 10_000,
]

VALUES: list[Any] = [{"text": t, "nested": {"list": [t, {"deeper": [t]}]}} for t in ODD_TEXT] + [
    {},
    [],
    "",
    0,
    True,
    False,
    {"none": None, "list": [None, 1, None]},
    {"int": 7, "neg": -7, "u64": 2**64 - 1, "i64": -(2**63)},
    {"big": 2**64, "bigger": 10**40, "negative": -(2**63) - 1},
    [2**200, -(2**200)],
    2**70,
    {"floats": [0.1, 1e16, 1e-7, -0.0, 1.0, 5e-324, 1.7976931348623157e308, 123456789.123]},
    {1: "int key", 2: {3: "nested int keys"}},
    {True: "bool key", None: "none key", 1.5: "float key"},
    {"tuple": (1, "two", (3,)), "namedtuple": Pair(1, 2)},
    {"intenum": Colour.RED, "strenum": Word.HELLO, "str subclass": Upper("up")},
    {Word.HELLO: "str enum key", Upper("k"): "str subclass key", Colour.RED: "int enum key"},
    Counted(a=1),
    OrderedDict([("b", 1), ("a", 2)]),
    {"id": "1234567890123456789012345", "phone": "+3161234567890123456789"},
    {"update_id": 912345678, "message": {"from": {"id": 123456789, "is_bot": False}}},
]

NOT_FINITE: list[Any] = [
    float("nan"),
    {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
    [1.0, float("inf"), None],
]

REFUSED: list[Any] = [
    dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    dt.date(2024, 1, 2),
    dt.time(3, 4),
    Decimal("1.5"),
    Point(1),
    {1, 2},
    b"bytes",
    {"key": object()},
    {(1, 2): "tuple key"},
    {dt.date(2024, 1, 2): "date key"},
]


def stdlib_round_trip(value: Any) -> Any:
    """What the column read back before orjson."""
    return json.loads(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def same(a: Any, b: Any) -> bool:
    """Equality that counts NaN equal to NaN and tells -0.0 from 0.0 and 1 from 1.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@pytest.mark.parametrize("value", VALUES + NOT_FINITE, ids=lambda v: repr(v)[:40])
def test_values_read_back_as_the_standard_library_read_them(value: Any, dialect: Any) -> None:
    column = JSONText()
    stored = column.process_bind_param(value, dialect)
    assert stored is not None
    assert "\x00" not in stored
    assert same(column.process_result_value(stored, dialect), stdlib_round_trip(value))
    assert same(json.loads(stored), stdlib_round_trip(value))  # the text is plain JSON


@pytest.mark.parametrize("value", VALUES + NOT_FINITE, ids=lambda v: repr(v)[:40])
def test_rows_the_standard_library_wrote_stay_readable(value: Any) -> None:
    column = JSONText()
    expected = stdlib_round_trip(value)
    for old in (
        json.dumps(value, separators=(",", ":"), ensure_ascii=False),
        json.dumps(value),  # default separators, \\u escapes
        json.dumps(value, indent=2, ensure_ascii=True),
    ):
        assert same(column.process_result_value(old, sqlite.dialect()), expected)


def test_the_text_is_compact_and_keeps_non_ascii_as_is() -> None:
    stored = JSONText().process_bind_param({"a": [1, 2], "b": "é🙂"}, sqlite.dialect())
    assert stored == '{"a":[1,2],"b":"é🙂"}'


def test_int_keys_become_strings_as_json_dumps_made_them() -> None:
    column = JSONText()
    stored = column.process_bind_param({1: "a", "2": "b"}, sqlite.dialect())
    assert stored == '{"1":"a","2":"b"}'
    assert column.process_result_value(stored, sqlite.dialect()) == {"1": "a", "2": "b"}


def test_big_ints_stay_ints() -> None:
    column = JSONText()
    for value in (2**64, -(2**63) - 1, 10**40, {"n": [2**100]}):
        stored = column.process_bind_param(value, sqlite.dialect())
        assert stored is not None
        assert column.process_result_value(stored, sqlite.dialect()) == value
        assert same(column.process_result_value(stored, sqlite.dialect()), value)


def test_nan_and_infinity_are_kept_as_the_standard_library_wrote_them() -> None:
    column = JSONText()
    stored = column.process_bind_param({"x": float("nan"), "y": float("inf")}, sqlite.dialect())
    assert stored == '{"x":NaN,"y":Infinity}'
    back = column.process_result_value(stored, sqlite.dialect())
    assert math.isnan(back["x"])
    assert back["y"] == math.inf


@pytest.mark.parametrize("value", REFUSED, ids=lambda v: repr(v)[:40])
def test_what_json_dumps_refused_is_still_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        JSONText().process_bind_param(value, sqlite.dialect())


def test_none_is_sql_null() -> None:
    column = JSONText()
    assert column.process_bind_param(None, sqlite.dialect()) is None
    assert column.process_result_value(None, sqlite.dialect()) is None


async def test_the_column_round_trips_on_the_database(database_url: str) -> None:
    metadata = MetaData()
    table = Table(
        "json_values",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("value", JSONText, nullable=True),
    )
    values = [*VALUES, *NOT_FINITE, None]
    # rows the stdlib wrote, in its default format (spaces, \u escapes)
    old_rows = [json.dumps(v) for v in (*VALUES, *NOT_FINITE)]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                insert(table), [{"id": i, "value": v} for i, v in enumerate(values)]
            )
            await conn.execute(
                text("INSERT INTO json_values (id, value) VALUES (:id, :value)"),
                [{"id": 1000 + i, "value": old} for i, old in enumerate(old_rows)],
            )
        async with engine.connect() as conn:
            rows = dict((await conn.execute(select(table.c.id, table.c.value))).all())
    finally:
        await engine.dispose()
    for i, value in enumerate(values):
        expected = None if value is None else stdlib_round_trip(value)
        assert same(rows[i], expected), (i, value)
    for i, value in enumerate((*VALUES, *NOT_FINITE)):
        assert same(rows[1000 + i], stdlib_round_trip(value)), (i, value)
