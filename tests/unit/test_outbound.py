"""Never send to an opted-out or unreachable identity: a turn's reply, an agent's reply and a
notice to such an identity are recorded "not sent" with one reason, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from storage import (
    ConsoleStore,
    GuardedTurn,
    HandoffOpening,
    NewInbound,
    ReplyWrite,
    TurnWrite,
    open_store,
    reachable,
)
from storage.outbound import unsent_reason

REASON = "the customer opted out or cannot be reached on web"


def test_the_rule() -> None:
    assert reachable({"opted_out": False, "unreachable": False})
    assert reachable({})
    assert not reachable({"opted_out": True, "unreachable": False})
    assert not reachable({"opted_out": False, "unreachable": True})
    assert unsent_reason("web") == REASON


async def test_turns_agents_and_notices_record_the_same_reason(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        await store.check_schema()
        console = ConsoleStore(store)
        agent = await console.add_agent("a@example.com", "Ann", "agent", "x")
        (row,) = await store.accept([NewInbound("web", "m1", "c1", {"text": "a person"})])
        assert row is not None
        state = await store.load_state(row.customer_id)
        now = time.time()
        flags = {"opted_out": True, "unreachable": False}
        reply_to = ReplyWrite("web", row.identity_id, "c1", None, "", {}, send=reachable(flags))
        # The turn opens a handoff; the identity opts out in the same turn (SMS STOP).
        turn = TurnWrite(
            inbox_id=row.inbox_id,
            customer_id=row.customer_id,
            conversation_id=state.conversation_id,
            identity_id=row.identity_id,
            channel="web",
            inbound_text="a person",
            inbound_payload={"text": "a person"},
            replies=[
                ReplyWrite("web", row.identity_id, "c1", None, "hi", {"text": "hi"}, send=False)
            ],
            status="waiting",
            identity_flags=flags,
        )
        opening = HandoffOpening(
            reason=None,
            trigger="customer",
            summary={},
            since=now,
            deadline_at=now + 60,
            notice="You are number 1 in the queue.",
            wait=60.0,
        )
        committed = await console.commit_guarded(
            GuardedTurn(turn, "bot", opening=opening, reply_to=reply_to)
        )
        assert committed is not None
        assert committed[0] == []  # nothing to send
        claimed = await console.claim(
            state.conversation_id, agent.id, admin=False, notice="Ann joined."
        )
        _, sent = await console.reply(state.conversation_id, agent.id, "Ann", "Hello!")
        messages = await store.messages(row.customer_id)
        history = await console.history(row.customer_id)
    finally:
        await store.close()
    assert (claimed, sent) == ([], [])
    out = [(m.author, m.text, m.delivery_status) for m in messages if m.direction == "out"]
    assert out == [
        ("bot", "hi", "not sent"),
        ("bot", "You are number 1 in the queue.", "not sent"),
        ("bot", "Ann joined.", "not sent"),
        ("agent", "Hello!", "not sent"),
    ]
    assert [m["error"] for m in history if m["direction"] == "out"] == [REASON] * 4
