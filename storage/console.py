"""The console's and the handoff's access to the database, next to a `Store`.

`ConsoleStore` gathers the parts, each in its own module:

- `storage.agents`: agent accounts, login sessions, API tokens, canned replies;
- `storage.handoffs`: a turn's guarded commit and the handoff transitions agents make;
- `storage.queue`: the queue ticker's reads and writes;
- `storage.console_reads`: what the console shows.

Who may act on a conversation is `storage.access`; every outbound message is written by
`storage.outbound`.
"""

from __future__ import annotations

from storage.agents import AgentAccounts
from storage.console_reads import ConsoleReads
from storage.handoffs import Handoffs
from storage.queue import HandoffQueue
from storage.store import Store

__all__ = ["ConsoleStore"]


class ConsoleStore(AgentAccounts, Handoffs, HandoffQueue, ConsoleReads):
    """The console's and the handoff's access to the database, next to a `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._runner = store._runner
        self._batch = store._batch
