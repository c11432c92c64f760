"""Two processes repairing the queue at once (conversations that wait without an open handoff)
give each conversation one open handoff, not one each."""

from __future__ import annotations

import asyncio
from collections import Counter

from storage import ConsoleStore, NewInbound, Store, TurnWrite, open_store

ROUNDS = 10
CONVERSATIONS = 5


async def _orphans(store: Store, tag: str) -> list[int]:
    """Conversations set waiting by turns committed without the handoff feature."""
    accepted = await store.accept(
        [
            NewInbound("web", f"{tag}{n}", f"{tag}{n}", {"text": "human"})
            for n in range(CONVERSATIONS)
        ]
    )
    conversations = []
    for row in accepted:
        assert row is not None
        state = await store.load_state(row.customer_id)
        await store.commit_turn(
            TurnWrite(
                inbox_id=row.inbox_id,
                customer_id=row.customer_id,
                conversation_id=state.conversation_id,
                identity_id=row.identity_id,
                channel="web",
                status="waiting",
            )
        )
        conversations.append(state.conversation_id)
    return conversations


async def test_concurrent_repairs_open_one_handoff_per_conversation(database_url: str) -> None:
    one, two = await open_store(database_url), await open_store(database_url)
    try:
        await one.check_schema()
        first, second = ConsoleStore(one), ConsoleStore(two)
        for round_ in range(ROUNDS):
            conversations = await _orphans(one, f"r{round_}-")
            repaired = await asyncio.gather(
                first.repair(lambda since: since + 60), second.repair(lambda since: since + 60)
            )
            assert sorted(repaired[0] + repaired[1]) == sorted(conversations)
            opened = Counter(w.conversation_id for w in await first.waiting())
            assert {c: opened[c] for c in conversations} == dict.fromkeys(conversations, 1)
    finally:
        await one.close()
        await two.close()
