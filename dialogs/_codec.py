"""JSON encoding of step results and remembered values, stable across restarts.

Plain JSON values pass through. Dates, times, decimals, tuples, dataclasses and pydantic
models are tagged so replay returns the same type the flow got the first time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from decimal import Decimal
from typing import Any

__all__ = ["decode", "encode"]

_TAG = "__baton__"


def encode(value: Any) -> Any:
    """A JSON-ready form of `value`; raises TypeError for what cannot be stored."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: encode(v) for k, v in value.items()}
        raise TypeError("only dicts with string keys can be journaled")
    if isinstance(value, dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    cls = type(value)
    path = f"{cls.__module__}:{cls.__qualname__}"
    if dataclasses.is_dataclass(value):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_TAG: "dataclass", "type": path, "fields": fields}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return {_TAG: "pydantic", "type": path, "fields": dump(mode="json")}
    raise TypeError(
        f"{cls.__name__} cannot be journaled: return JSON values, dates, decimals, "
        "dataclasses or pydantic models from ctx.step"
    )


def decode(value: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: decode(v) for k, v in value.items()}
    if tag == "tuple":
        return tuple(decode(v) for v in value["items"])
    if tag == "datetime":
        return dt.datetime.fromisoformat(value["v"])
    if tag == "date":
        return dt.date.fromisoformat(value["v"])
    if tag == "time":
        return dt.time.fromisoformat(value["v"])
    if tag == "decimal":
        return Decimal(value["v"])
    module, _, qualname = str(value["type"]).partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if tag == "dataclass":
        return obj(**{k: decode(v) for k, v in value["fields"].items()})
    return obj.model_validate(value["fields"])
