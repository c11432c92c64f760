"""The `media_files` rows: recording fetched and refused files, reading them for the console,
and forgetting a customer's files (retention and erasure)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from storage.store import Store
from storage.tables import metadata

__all__ = ["MediaFiles", "MediaRow"]

_files = metadata.tables["media_files"]


@dataclass(frozen=True, slots=True)
class MediaRow:
    """One file, as recorded."""

    id: int
    customer_id: int
    channel: str
    direction: str
    kind: str
    mime_type: str | None
    name: str | None
    size: int | None
    location: str | None
    status: str
    reason: str | None
    created_at: float


class MediaFiles:
    """The media rows of a `Store`'s database."""

    def __init__(self, store: Store) -> None:
        self._runner = store._runner

    async def record(self, **values: Any) -> int:
        """Write one row (the `MediaFile` fields, `created_at` added); returns its id."""
        row = {"created_at": time.time(), **values}

        def write(conn: Connection) -> int:
            return int(conn.execute(insert(_files).returning(_files.c.id), row).scalar_one())

        return await self._runner.run(write)

    async def get(self, file_id: int) -> MediaRow | None:
        """The row `file_id`, or None."""

        def read(conn: Connection) -> MediaRow | None:
            found = conn.execute(select(_files).where(_files.c.id == file_id)).first()
            return _row(dict(found._mapping)) if found is not None else None

        return await self._runner.run(read)

    async def of_customer(self, customer_id: int) -> list[MediaRow]:
        """The customer's files, oldest first."""

        def read(conn: Connection) -> list[MediaRow]:
            rows = conn.execute(
                select(_files).where(_files.c.customer_id == customer_id).order_by(_files.c.id)
            )
            return [_row(dict(r._mapping)) for r in rows]

        return await self._runner.run(read)

    async def forget(self, customer_id: int) -> list[str]:
        """Delete the customer's rows; returns the locations whose bytes the caller deletes
        from the file store (erasure, retention)."""

        def write(conn: Connection) -> list[str]:
            where = _files.c.customer_id == customer_id
            locations = [
                str(v) for v in conn.execute(select(_files.c.location).where(where)).scalars() if v
            ]
            conn.execute(delete(_files).where(where))
            return locations

        return await self._runner.run(write)


def _row(m: Mapping[str, Any]) -> MediaRow:
    return MediaRow(
        int(m["id"]),
        int(m["customer_id"]),
        m["channel"],
        m["direction"],
        m["kind"],
        m["mime_type"],
        m["name"],
        m["size"],
        m["location"],
        m["status"],
        m["reason"],
        float(m["created_at"]),
    )
