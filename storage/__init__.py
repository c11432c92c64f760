"""Baton's storage: tables, the store API and migrations; the public door.

>>> store = await open_store("sqlite+aiosqlite:///./baton.db")
>>> await store.check_schema()

Where things live:

- `storage.store`: the `Store`, the message path's API (inbox, leases, claims, a turn's
  commit, the outbox), over `storage.hot_path` (its transactions) and `storage._statements`
  (its statements, compiled once); `storage.reads`: reads for people and tests;
- `storage.console`: `ConsoleStore`, gathering `storage.agents` (accounts, sessions, tokens,
  canned replies), `storage.handoffs` (transitions and a turn's guarded commit),
  `storage.queue` (the queue ticker) and `storage.console_reads` (what the console shows);
- `storage.access`: who may act on a conversation, in Python and in SQL;
- `storage.outbound`: the one writer of outbound messages and the reachability rule;
- `storage.followup`: `FollowupStore`, scheduled work fed into customers' lines, durable
  events and their deliveries, survey answers (`storage.followup_writes`: the same inside a
  caller's transaction);
- `storage.identities` (linking codes and proofs), `storage.merges`, `storage.proofs`;
- `storage.media` (the `media_files` rows) and `storage.files` (where the bytes are kept);
- `storage.vocabulary`: statuses, outcomes, roles, authors; `storage.records`: the values
  passed in and out; `storage.tables`, `storage.types`, `storage.migrations`: the schema.
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
from storage.files import FileStore, LocalFolder
from storage.followup import Delivery, FollowupStore, RunRecord
from storage.followup_writes import WAKE_CONTROL
from storage.handoffs import GuardedTurn, HandoffOpening
from storage.llm_summaries import LLM_KEY, LLMSummaries
from storage.media import MediaFiles, MediaRow
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
    ScheduleWrite,
    TurnWrite,
)
from storage.store import Store, open_store
from storage.vocabulary import Author, ConversationStatus, HandoffOutcome, HandoffStatus, Role

__all__ = [
    "LLM_KEY",
    "WAKE_CONTROL",
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
    "Delivery",
    "FileStore",
    "FollowupStore",
    "GuardedTurn",
    "HandoffOpening",
    "HandoffOutcome",
    "HandoffStatus",
    "JournalRow",
    "LLMSummaries",
    "LocalFolder",
    "MediaFiles",
    "MediaRow",
    "MessageRow",
    "NewInbound",
    "OutboxRow",
    "ReplyWrite",
    "Role",
    "RunRecord",
    "ScheduleWrite",
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
