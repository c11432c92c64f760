"""Baton's storage: tables, the store API and migrations.

>>> store = await open_store("sqlite+aiosqlite:///./baton.db")
>>> await store.check_schema()
"""

from __future__ import annotations

from storage.errors import AlreadyHandled, ConfigError, SchemaBehind, StoreError, StoreLocked
from storage.records import (
    Accepted,
    Claim,
    CustomerState,
    JournalRow,
    MessageRow,
    NewInbound,
    OutboxRow,
    ReplyWrite,
    TurnWrite,
)
from storage.store import Store, open_store

__all__ = [
    "Accepted",
    "AlreadyHandled",
    "Claim",
    "ConfigError",
    "CustomerState",
    "JournalRow",
    "MessageRow",
    "NewInbound",
    "OutboxRow",
    "ReplyWrite",
    "SchemaBehind",
    "Store",
    "StoreError",
    "StoreLocked",
    "TurnWrite",
    "open_store",
]
