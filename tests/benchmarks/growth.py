"""Growth check: does one message cost the same for a customer with 10 stored messages as for
one with 100,000? (DESIGN.md decision 6: "The cost of one message stays flat as history grows.")

Each run starts Baton on a fresh database, lets the measured customer finish one dialog through
the webhook (which creates the customer: 6 stored messages), seeds the rest of its history
straight into the `messages` table with bulk SQL inserts, warms up with another customer, then
sends the measured customer's messages one at a time (each after the previous reply) and
measures latency and the server's CPU time per message.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.benchmarks.common import percentile, remove_sqlite
from tests.benchmarks.load import (
    BenchEmulator,
    Customers,
    PgDatabase,
    client_session,
    drive,
    fresh_postgres,
    no_gc,
    pg_sampling,
    server_process,
    snapshot,
    window,
)

TARGET = 5_550_001
"""The measured customer's Telegram user id."""
WARM = 5_550_002
"""The customer that warms the server up."""
_CREATED = 6
"""Messages stored by the first dialog (3 in, 3 out), which creates the customer."""
_CHUNK = 10_000


async def seed_messages(database_url: str, user_id: int, count: int) -> float:
    """Insert `count` old messages of Telegram user `user_id` in bulk; returns seconds taken."""
    if count <= 0:
        return 0.0
    from sqlalchemy import insert, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.tables import metadata

    messages = metadata.tables["messages"]
    identities = metadata.tables["identities"]
    customers = metadata.tables["customers"]
    started = time.perf_counter()
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            row = (
                await conn.execute(
                    select(identities.c.id, identities.c.customer_id, customers.c.conversation_id)
                    .join(customers, customers.c.id == identities.c.customer_id)
                    .where(
                        identities.c.channel == "telegram",
                        identities.c.external_id == str(user_id),
                    )
                )
            ).one()
        identity_id, customer_id, conversation_id = int(row[0]), int(row[1]), row[2]
        base = time.time() - count
        for start in range(0, count, _CHUNK):
            rows: list[dict[str, Any]] = []
            for i in range(start, min(count, start + _CHUNK)):
                inbound = i % 2 == 0
                text = f"old message {i}"
                rows.append(
                    {
                        "customer_id": customer_id,
                        "conversation_id": conversation_id,
                        "direction": "in" if inbound else "out",
                        "author": "customer" if inbound else "bot",
                        "channel": "telegram",
                        "identity_id": identity_id,
                        "text": text,
                        "payload": {"text": text},
                        "platform_message_id": f"seed-{i}",
                        "delivery_status": "received" if inbound else "sent",
                        "error": None,
                        "created_at": base + i,
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(insert(messages), rows)
        if engine.dialect.name == "postgresql":
            # As a long-lived database would be: vacuumed and analysed, so autovacuum does not
            # wake up on the fresh 100,000 rows in the middle of the measurement.
            async with engine.connect() as plain:
                autocommit = await plain.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM ANALYZE messages")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


@asynccontextmanager
async def baton_database(
    backend: str, workdir: Path, tag: str, pg: str | None
) -> AsyncIterator[tuple[str, PgDatabase | None]]:
    """A fresh database for Baton: a new SQLite file, or a new PostgreSQL database."""
    if backend == "postgres":
        assert pg is not None
        async with fresh_postgres(pg) as db:
            yield db.url, db
        return
    path = workdir / f"{tag}.db"
    try:
        yield f"sqlite+aiosqlite:///{path}", None
    finally:
        remove_sqlite(path)


async def growth_run(
    backend: str,
    history: int,
    *,
    messages: int,
    workdir: Path,
    run_no: int,
    postgres: str | None,
    time_limit: float,
) -> dict[str, Any]:
    """One measurement: `messages` sequential messages of a customer with `history` stored."""
    tag = f"growth-{backend}-{history}-{run_no}"
    what = f"growth {backend} {history}"
    emulator = BenchEmulator()
    runner, api_base = await emulator.serve()
    try:
        with no_gc():
            async with (
                baton_database(backend, workdir, tag, postgres) as (url, pg),
                server_process(
                    "baton",
                    ["--api-base", api_base, "--database-url", url],
                    workdir / f"{tag}.log",
                ) as server,
                client_session(4) as session,
            ):

                async def send(who: Customers, total: int) -> list[float]:
                    result = await drive(
                        emulator,
                        server.webhook_url,
                        session,
                        who,
                        total=total,
                        inflight=1,
                        time_limit=time_limit,
                        what=what,
                    )
                    return result.latencies

                target = Customers([TARGET])
                await send(target, 3)  # creates the customer: 6 stored messages
                seed_seconds = await seed_messages(url, TARGET, history - _CREATED)
                await send(Customers([WARM]), 30)
                async with pg_sampling(pg) as sampler:
                    before = snapshot(server, sampler)
                    latencies = await send(target, messages)
                    after = snapshot(server, sampler)
    finally:
        await runner.cleanup()
    lat = sorted(latencies)
    cpu = window(before, after, len(lat))
    return {
        "backend": backend,
        "history": history,
        "run": run_no,
        "messages": len(lat),
        "seconds": after.wall - before.wall,
        "seed_seconds": seed_seconds,
        "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "cpu_ms_per_msg": cpu["server_cpu_ms_per_msg"],
        "db_cpu_ms_per_msg": cpu["db_cpu_ms_per_msg"],
        "other_cpu_pct": cpu["other_cpu_pct"],
    }
