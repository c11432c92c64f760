"""Everything Baton holds about a customer, read from the declared tables
(`storage.personal_data`), as plain JSON-ready data."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, select

from storage.erasure import customer_rows, erasure_set
from storage.personal_data import REGISTRY
from storage.tables import metadata

__all__ = ["export"]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return value


def export(conn: Connection, customer_id: int) -> dict[str, Any] | None:
    """The customer's data per section (profile, identities, messages, ...); None when there
    is no such customer. Customers merged into this one are included."""
    customers = metadata.tables["customers"]
    if conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
        return None
    ids = erasure_set(conn, customer_id)
    sections: dict[str, list[dict[str, Any]]] = {}
    for entry in REGISTRY:
        if entry.export is None:
            continue
        table = metadata.tables[entry.table]
        order = table.c.id if "id" in table.c else next(iter(table.primary_key.columns))
        rows = conn.execute(
            select(table).where(customer_rows(entry, ids)).order_by(order)
        ).mappings()
        sections[entry.export] = [
            {k: _plain(v) for k, v in row.items() if k not in entry.hidden} for row in rows
        ]
    return {
        "customer_id": customer_id,
        "customer_ids": ids,
        "exported_at": time.time(),
        "sections": sections,
    }
