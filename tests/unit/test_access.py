"""Who may act on a conversation is defined once (`storage.access`): the Python decision the
console's policy takes and the SQL condition storage's queries carry agree on every
combination of handoff status, reservation, holder and role, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import Connection, and_, insert, select

from bot.console.policy import can_see
from storage import Access, ConsoleStore, NewInbound, Store, open_store
from storage.access import ASSIGN, CLAIM, HOLD, RELEASE, REPLY, SEE, Rule
from storage.tables import metadata
from storage.vocabulary import OPEN

ME, OTHER = "me", "other"
STATUSES = [None, "waiting", "agent"]
"""None: no open handoff (only closed ones)."""
WHO = [None, ME, OTHER]
RULES = {
    "see": SEE,
    "claim": CLAIM,
    "assign": ASSIGN,
    "release": RELEASE,
    "hold": HOLD,
    "reply": REPLY,
}

_conversations = metadata.tables["conversations"]
_handoffs = metadata.tables["handoffs"]


async def _allowed_by_sql(
    store: Store, rule: Rule, conversations: list[int], agent_id: int, *, admin: bool
) -> set[int]:
    """The conversations `rule.where` lets through, joined to their open handoff as storage's
    reads join them."""

    def read(conn: Connection) -> set[int]:
        q = (
            select(_conversations.c.id)
            .select_from(_conversations)
            .outerjoin(
                _handoffs,
                and_(
                    _handoffs.c.conversation_id == _conversations.c.id,
                    _handoffs.c.status.in_(OPEN),
                ),
            )
            .where(_conversations.c.id.in_(conversations), rule.where(agent_id, admin=admin))
        )
        return {int(r[0]) for r in conn.execute(q)}

    result: set[int] = await store._runner.run(read)
    return result


async def test_python_and_sql_agree_on_every_combination(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        await store.check_schema()
        console = ConsoleStore(store)
        agents = {
            ME: (await console.add_agent("me@example.com", "Me", "agent", "x")).id,
            OTHER: (await console.add_agent("other@example.com", "Other", "agent", "x")).id,
        }
        grid = list(itertools.product(STATUSES, WHO, WHO))
        accepted = await store.accept(
            [NewInbound("web", f"m{n}", f"c{n}", {"text": "hi"}) for n in range(len(grid))]
        )
        customers = [a.customer_id for a in accepted if a is not None]
        conversations = [(await store.load_state(c)).conversation_id for c in customers]
        rows = []
        now = time.time()
        for (status, assigned, holder), customer_id, conversation_id in zip(
            grid, customers, conversations, strict=True
        ):
            base = {
                "customer_id": customer_id,
                "conversation_id": conversation_id,
                "trigger": "customer",
                "summary": {},
                "created_at": now,
                "position_at_entry": 1,
                "deadline_at": now + 60,
                "assigned_to": agents[assigned] if assigned else None,
                "agent_id": agents[holder] if holder else None,
            }
            rows.append({**base, "status": "resolved"})  # a closed one never counts
            if status is not None:
                rows.append({**base, "status": status})
        await store._runner.run(lambda c: c.execute(insert(_handoffs), rows))
        accesses = await console.accesses(conversations)
        checked = 0
        for (name, rule), who, admin in itertools.product(
            RULES.items(), (ME, OTHER), (False, True)
        ):
            agent_id = agents[who]
            by_sql = await _allowed_by_sql(store, rule, conversations, agent_id, admin=admin)
            for combination, conversation_id in zip(grid, conversations, strict=True):
                access: Access = accesses[conversation_id]
                by_python = rule.allows(access, agent_id, admin=admin)
                assert by_python == (conversation_id in by_sql), (name, combination, who, admin)
                checked += 1
            # The console's policy is the SEE rule.
            if rule is SEE:
                assert {
                    c for c in conversations if can_see(accesses[c], agent_id, admin=admin)
                } == by_sql
        assert checked == len(RULES) * 2 * 2 * len(grid)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("status", "assigned", "holder", "expected"),
    [
        ("waiting", None, None, True),
        ("waiting", ME, None, True),
        ("waiting", OTHER, None, False),
        ("agent", None, ME, True),
        ("agent", None, OTHER, False),
        (None, None, None, False),
    ],
)
def test_an_agent_sees_the_queue_what_is_reserved_for_them_and_what_they_hold(
    status: str | None, assigned: str | None, holder: str | None, expected: bool
) -> None:
    ids = {ME: 1, OTHER: 2, None: None}
    access = Access(
        conversation_id=1,
        customer_id=1,
        status=status or "bot",
        handoff_id=None if status is None else 1,
        handoff_status=status,
        agent_id=ids[holder],
        assigned_to=ids[assigned],
    )
    assert can_see(access, 1, admin=False) == expected
    assert can_see(access, 1, admin=True)
    assert not can_see(None, 1, admin=True)
