"""Baton's storage: tables, the store API and migrations; the public door.

>>> store = await open_store("sqlite+aiosqlite:///./baton.db")
>>> await store.check_schema()

Where things live: `storage.store` (the `Store`: inbox, leases, a turn's commit, the outbox),
`storage.console` (`ConsoleStore`, gathering `storage.agents`, `storage.handoffs`,
`storage.queue` and `storage.console_reads`), `storage.access` (who may act on a
conversation), `storage.outbound` (the one writer of outbound messages), `storage.identities`
(linking), `storage.vocabulary` (statuses, roles, authors), `storage.records` (the values
passed in and out), `storage.tables` and `storage.types` (the schema).
"""

from __future__ import annotations

from storage.access import Access
from storage.agents import AgentRow, SessionRow, TokenRow
from storage.console import ConsoleStore
from storage.errors import (
    AlreadyHandled,
    ConfigError,
    ConsoleConflict,
    SchemaBehind,
    StoreError,
    StoreLocked,
)
from storage.handoffs import GuardedTurn, HandoffOpening
from storage.outbound import reachable
from storage.queue import WaitingRow
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
from storage.vocabulary import Author, ConversationStatus, HandoffOutcome, HandoffStatus, Role

__all__ = [
    "Accepted",
    "Access",
    "AgentRow",
    "AlreadyHandled",
    "Author",
    "Claim",
    "ConfigError",
    "ConsoleConflict",
    "ConsoleStore",
    "ConversationStatus",
    "CustomerState",
    "GuardedTurn",
    "HandoffOpening",
    "HandoffOutcome",
    "HandoffStatus",
    "JournalRow",
    "MessageRow",
    "NewInbound",
    "OutboxRow",
    "ReplyWrite",
    "Role",
    "SchemaBehind",
    "SessionRow",
    "Store",
    "StoreError",
    "StoreLocked",
    "TokenRow",
    "TurnWrite",
    "WaitingRow",
    "open_store",
    "reachable",
]
