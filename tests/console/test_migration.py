"""`baton migrate` takes a database made by revision 0001 to 0002 (the console's tables), on
SQLite and PostgreSQL; a conversation that was waiting for a person lands in the queue."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from alembic import command
from sqlalchemy import Connection, insert, inspect, update

from storage import ConsoleStore, _schema, open_store
from storage.tables import metadata

CONSOLE_TABLES = {
    "agents",
    "agent_sessions",
    "api_tokens",
    "handoffs",
    "handoff_events",
    "agent_notes",
    "canned_replies",
}


def _at_0001_with_a_waiting_customer(conn: Connection) -> None:
    command.upgrade(_schema.config(conn), "0001")
    now = time.time()
    customers, conversations = metadata.tables["customers"], metadata.tables["conversations"]
    customer = conn.execute(
        insert(customers).returning(customers.c.id),
        {"created_at": now, "last_seen_at": now, "memory": {}},
    ).scalar_one()
    conversation = conn.execute(
        insert(conversations).returning(conversations.c.id),
        {
            "customer_id": customer,
            "status": "waiting",
            "status_at": now - 60,
            "handoff_reason": "customer asked for a person",
            "created_at": now,
        },
    ).scalar_one()
    conn.execute(
        update(customers).where(customers.c.id == customer).values(conversation_id=conversation)
    )


async def baton_migrate(url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate",
        env={**os.environ, "BATON_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,  # Alembic's log lines
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_baton_migrate_from_0001_to_0002(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        await store._runner.run(_at_0001_with_a_waiting_customer)
        assert await store.schema_status() == ("0001", _schema.head())  # later revisions too
    finally:
        await store.close()

    code, out = await baton_migrate(database_url)

    store = await open_store(database_url)
    try:
        assert await store.schema_status() == (_schema.head(), _schema.head())
        tables = set(await store._runner.run(lambda c: inspect(c).get_table_names()))
        queue = await ConsoleStore(store).open_handoffs()
        await store._runner.run(lambda c: command.downgrade(_schema.config(c), "0001"))
        after_downgrade = set(await store._runner.run(lambda c: inspect(c).get_table_names()))
    finally:
        await store.close()
    assert (code, out.strip()) == (0, f"baton: migrated 0001 -> {_schema.head()}")
    assert tables >= CONSOLE_TABLES
    assert [(h["status"], h["reason"]) for h in queue] == [
        ("waiting", "customer asked for a person")
    ]
    assert queue[0]["deadline_at"] == queue[0]["created_at"] + 30 * 60
    assert not after_downgrade & CONSOLE_TABLES
