"""The store on SQLite and PostgreSQL: odd text, dedupe, schema checks."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from storage import NewInbound, ReplyWrite, SchemaBehind, Store, TurnWrite, open_store
from storage._checkpoint import BACKSTOP_PAGES

ODD = [
    "nul \x00 byte",
    "emoji 🙂👩‍👩‍👧",
    "עברית וערבית عربي",
    "x" * 10_000,
    "\ue000 private use \ue0000",
    "<b>html</b> & 'quotes'",
]


@asynccontextmanager
async def opened(url: str, *, engine: bool = False) -> AsyncIterator[Store]:
    """A store on `url` with its schema created; closed on exit."""
    store = await open_store(url, engine=engine)
    try:
        await store.check_schema()
        yield store
    finally:
        await store.close()


async def test_odd_text_stores_and_reads_back(database_url: str) -> None:
    async with opened(database_url) as store:
        accepted = await store.accept(
            [NewInbound("web", f"m{i}", "someone", {"text": t}) for i, t in enumerate(ODD)]
        )
        rows = [a for a in accepted if a is not None]
        assert len(rows) == len(ODD)
        customer = rows[0].customer_id
        state = await store.load_state(customer)
        for row, odd in zip(rows, ODD, strict=True):
            await store.commit_turn(
                TurnWrite(
                    inbox_id=row.inbox_id,
                    customer_id=customer,
                    conversation_id=state.conversation_id,
                    identity_id=row.identity_id,
                    channel="web",
                    inbound_text=odd,
                    inbound_payload={"text": odd},
                    replies=[
                        ReplyWrite("web", row.identity_id, "someone", None, odd, {"text": odd})
                    ],
                )
            )
        messages = await store.messages(customer)
        pending = await store.pending_inbox()
    assert [m.text for m in messages if m.direction == "in"] == ODD
    assert [m.text for m in messages if m.direction == "out"] == ODD
    assert [m.payload["text"] for m in messages if m.direction == "in"] == ODD  # type: ignore[index]
    assert pending == []


LONE = [
    ("lone \ud800 high", "lone \ufffd high"),
    ("lone \udfff low", "lone \ufffd low"),
    ("\udc00\ud800 reversed", "\ufffd\ufffd reversed"),
    ("a pair as two code points \ud83d\ude42", "a pair as two code points 🙂"),
    ("nul \x00 and \ud800", "nul \x00 and \ufffd"),
]


async def test_lone_surrogates_are_stored_as_the_replacement_character(
    database_url: str,
) -> None:
    async with opened(database_url) as store:
        accepted = await store.accept(
            [
                NewInbound("web", f"s{i}", "odd", {"text": t}, display_name=t)
                for i, (t, _) in enumerate(LONE)
            ]
        )
        rows = [a for a in accepted if a is not None]
        assert len(rows) == len(LONE)
        customer = rows[0].customer_id
        state = await store.load_state(customer)
        for row, (odd, _) in zip(rows, LONE, strict=True):
            await store.commit_turn(
                TurnWrite(
                    inbox_id=row.inbox_id,
                    customer_id=customer,
                    conversation_id=state.conversation_id,
                    identity_id=row.identity_id,
                    channel="web",
                    inbound_text=odd,
                    inbound_payload={"text": odd, odd: [odd]},
                    replies=[ReplyWrite("web", row.identity_id, "odd", None, odd, {"text": odd})],
                    handoff_reason=odd,
                    memory={"name": odd},
                )
            )
        messages = await store.messages(customer)
        state = await store.load_state(customer)
        outbox = await store.outbox(customer)
    fixed = [f for _, f in LONE]
    assert [m.text for m in messages if m.direction == "in"] == fixed
    assert [m.text for m in messages if m.direction == "out"] == fixed
    assert [m.payload for m in messages if m.direction == "in"] == [
        {"text": f, f: [f]} for f in fixed
    ]
    assert [r["payload"] for r in outbox] == [{"text": f} for f in fixed]
    assert state.memory == {"name": fixed[-1]}


async def test_a_new_customers_state_comes_with_their_first_row_as_a_read_gives_it(
    database_url: str,
) -> None:
    async with opened(database_url) as store:
        first = await store.accept(
            [
                NewInbound("telegram", "1", "7", {"text": "a"}),
                NewInbound("telegram", "2", "7", {"text": "b"}),
                NewInbound("twilio", "3", "+31600000000", {"text": "c"}),
            ]
        )
        later = await store.accept([NewInbound("telegram", "4", "7", {"text": "d"})])
        rows = [a for a in [*first, *later] if a is not None]
        read = [await store.load_state(row.customer_id) for row in rows]
        flags = await store.identity_flags(rows[0].identity_id)
    made = [row.new_customer for row in rows]
    # One state per customer made, on their first row; the rows after it carry none.
    assert made == [read[0], None, read[2], None]
    assert read[0].customer_id != read[2].customer_id
    assert flags == {"opted_out": False, "unreachable": False}


async def test_the_inbox_takes_a_platform_message_id_once(database_url: str) -> None:
    async with opened(database_url) as store:
        first = await store.accept(
            [
                NewInbound("telegram", "42", "7", {"text": "a"}),
                NewInbound("telegram", "42", "7", {"text": "a"}),
                NewInbound("twilio", "42", "+31600000000", {"text": "a"}),
            ]
        )
        later = await store.accept([NewInbound("telegram", "42", "7", {"text": "a"})])
        assert await store.count("inbox") == 2
    assert [a is not None for a in first] == [True, False, True]
    assert later == [None]


async def test_a_turn_is_never_written_twice_for_one_inbox_row(database_url: str) -> None:
    from storage import AlreadyHandled

    async with opened(database_url) as store:
        [row] = await store.accept([NewInbound("web", "m1", "c", {"text": "hi"})])
        assert row is not None
        state = await store.load_state(row.customer_id)
        turn = TurnWrite(
            inbox_id=row.inbox_id,
            customer_id=row.customer_id,
            conversation_id=state.conversation_id,
            identity_id=row.identity_id,
            channel="web",
            inbound_payload={"text": "hi"},
            replies=[ReplyWrite("web", row.identity_id, "c", None, "hello", {"text": "hello"})],
        )
        await store.commit_turn(turn)
        with pytest.raises(AlreadyHandled):
            await store.commit_turn(turn)
        assert await store.count("outbox") == 1


async def test_an_empty_database_is_created_and_a_foreign_one_refused(database_url: str) -> None:
    async with opened(database_url) as store:
        current, head = await store.schema_status()
        assert current == head
        await store._runner.run(
            lambda c: c.execute(text("UPDATE alembic_version SET version_num = 'zzzz'"))
        )
        with pytest.raises(SchemaBehind, match="newer than this Baton"):
            await store.check_schema()
        await store._runner.run(lambda c: c.execute(text("DELETE FROM alembic_version")))
        with pytest.raises(SchemaBehind, match="no Baton schema version"):
            await store.check_schema()


async def test_a_second_engine_on_one_sqlite_file_is_refused(sqlite_url: str) -> None:
    from storage import StoreLocked

    first = await open_store(sqlite_url, engine=True)
    try:
        with pytest.raises(StoreLocked, match="another Baton process"):
            await open_store(sqlite_url, engine=True)
        reader = await open_store(sqlite_url)  # admin commands may still open it
        await reader.close()
    finally:
        await first.close()


@asynccontextmanager
async def locked_by_another_process(
    sqlite_url: str,
) -> AsyncIterator[tuple[Store, Callable[[], object]]]:
    """An engine's store on `sqlite_url` while another process holds the write lock (e.g.
    `baton agent add` writing right now), and the call with which that process commits."""
    store = await open_store(sqlite_url, engine=True)
    other = sqlite3.connect(str(make_url(sqlite_url).database), isolation_level=None)
    try:
        await store.check_schema()
        other.execute("BEGIN IMMEDIATE")
        yield store, lambda: other.execute("COMMIT")
    finally:
        other.close()
        await store.close()


async def ticks(n: int = 50) -> None:
    """Let the event loop run `n` rounds."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_write_waits_for_another_process_lock_without_stopping_the_loop(
    sqlite_url: str,
) -> None:
    async with locked_by_another_process(sqlite_url) as (store, release):
        first = asyncio.ensure_future(store.accept([NewInbound("web", "m1", "ann", {})]))
        second = asyncio.ensure_future(store.accept([NewInbound("web", "m2", "bob", {})]))
        await ticks()  # the event loop keeps running meanwhile
        assert not first.done()
        assert not second.done()
        release()
        accepted = [*await first, *await second]
        pending = await store.pending_inbox()
    assert all(a is not None for a in accepted)
    assert [p.inbox_id for p in pending] == [a.inbox_id for a in accepted if a is not None]


async def test_a_cancelled_wait_for_another_process_lock_keeps_the_connection_off_the_loop(
    sqlite_url: str,
) -> None:
    async with locked_by_another_process(sqlite_url) as (store, release):
        waiting = asyncio.ensure_future(store.pending_inbox())  # waits on the helper thread
        await ticks()
        waiting.cancel()  # e.g. the engine stopping its sweeper
        later = asyncio.ensure_future(store.accept([NewInbound("web", "m1", "ann", {})]))
        await ticks()  # the loop runs: nothing took the connection from the thread
        assert not waiting.done()  # it lets go of the connection only when the thread has
        assert not later.done()
        release()
        accepted = await later
        with pytest.raises(asyncio.CancelledError):
            await waiting
        pending = await store.pending_inbox()
    assert accepted[0] is not None
    assert [p.inbox_id for p in pending] == [accepted[0].inbox_id]


async def test_replies_of_many_customers_committed_together_point_at_their_own_messages(
    database_url: str,
) -> None:
    async with opened(database_url) as store:
        rows = [
            a
            for a in await store.accept(
                [NewInbound("web", f"m{i}", f"customer-{i}", {"text": "hi"}) for i in range(6)]
            )
            if a is not None
        ]
        states = [await store.load_state(row.customer_id) for row in rows]

        def turn(i: int) -> TurnWrite:
            row, state = rows[i], states[i]
            return TurnWrite(
                inbox_id=row.inbox_id,
                customer_id=row.customer_id,
                conversation_id=state.conversation_id,
                identity_id=row.identity_id,
                channel="web",
                inbound_text=f"in {i}",
                inbound_payload={"text": f"in {i}"},
                replies=[
                    ReplyWrite("web", row.identity_id, f"customer-{i}", None, t, {"text": t})
                    for t in (f"first to {i}", f"second to {i}")
                ],
            )

        # One group commit: every turn is queued before the first transaction runs.
        outboxes = await asyncio.gather(*(store.commit_turn(turn(i)) for i in range(6)))
        histories = [await store.messages(row.customer_id) for row in rows]
    for i, (outbox, history) in enumerate(zip(outboxes, histories, strict=True)):
        by_id = {m.id: m for m in history}
        assert [m.text for m in history] == [f"in {i}", f"first to {i}", f"second to {i}"]
        assert [by_id[o.message_id].text for o in outbox if o.message_id is not None] == [
            f"first to {i}",
            f"second to {i}",
        ]
        assert len({o.id for o in outbox}) == 2


async def test_a_repeated_message_in_a_group_commit_leaves_the_others_their_ids(
    database_url: str,
) -> None:
    async with opened(database_url) as store:
        [old] = await store.accept([NewInbound("web", "m1", "ann", {"text": "one"})])
        groups = await asyncio.gather(
            store.accept([NewInbound("web", "m2", "ann", {"text": "two"})]),
            store.accept([NewInbound("web", "m1", "ann", {"text": "one again"})]),
            store.accept([NewInbound("web", "m3", "bob", {"text": "three"})]),
        )
        pending = await store.pending_inbox()
    assert old is not None
    two, again, three = (g[0] for g in groups)
    assert again is None
    assert two is not None
    assert three is not None
    assert [(p.inbox_id, p.payload["text"]) for p in pending] == [
        (old.inbox_id, "one"),
        (two.inbox_id, "two"),
        (three.inbox_id, "three"),
    ]


async def test_the_sweep_reads_the_waiting_inbox_rows_not_the_whole_inbox(
    sqlite_url: str,
) -> None:
    async with opened(sqlite_url) as store:
        plan = await store._runner.run(
            lambda c: [
                str(r[-1])
                for r in c.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE processed_at IS NULL "
                    "ORDER BY id LIMIT 1000"
                )
            ]
        )
    assert plan == ["SCAN inbox USING INDEX ix_inbox_unprocessed"]


async def test_sqlite_copies_its_log_into_the_database_off_the_event_loop(
    sqlite_url: str,
) -> None:
    path = str(make_url(sqlite_url).database)
    async with opened(sqlite_url, engine=True) as store:
        checkpointer = getattr(store._runner, "checkpointer", None)
        assert checkpointer is not None
        autocheckpoint = await store._runner.run(
            lambda c: c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        )
        for i in range(2 * checkpointer.every):  # a commit each
            accepted = await store.accept(
                [NewInbound("web", f"m{i}-{j}", f"c{j}", {"text": "x" * 2000}) for j in range(5)]
            )
            assert all(a is not None for a in accepted)
        await asyncio.to_thread(lambda: None)  # let a running checkpoint go on meanwhile
    assert autocheckpoint == BACKSTOP_PAGES  # SQLite's own, in a COMMIT: only as a backstop
    assert checkpointer.checkpoints >= 1
    # The last connection to close copied the whole log and removed it.
    assert not await asyncio.to_thread(Path(path + "-wal").exists)
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT count(*) FROM inbox").fetchone() == (
            2 * checkpointer.every * 5,
        )


async def test_baton_migrate_from_0003_indexes_the_waiting_inbox_rows(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from storage import _schema

    def inbox_indexes(conn: Connection) -> set[str]:
        return {str(ix["name"]) for ix in inspect(conn).get_indexes("inbox")}

    store = await open_store(database_url)
    try:
        await store._runner.run(lambda c: command.upgrade(_schema.config(c), "0003"))
        await store.accept([NewInbound("web", "m1", "ann", {"text": "waiting"})])
        before = await store._runner.run(inbox_indexes)
        assert await store.migrate() == ("0003", _schema.head())
        after = await store._runner.run(inbox_indexes)
        pending = await store.pending_inbox()
        await store._runner.run(lambda c: command.downgrade(_schema.config(c), "0003"))
        down = await store._runner.run(inbox_indexes)
    finally:
        await store.close()
    assert "ix_inbox_unprocessed" not in before
    assert "ix_inbox_unprocessed" in after
    assert [p.payload["text"] for p in pending] == ["waiting"]
    assert down == before


async def test_sqlite_log_stays_bounded_under_steady_writes(sqlite_url: str) -> None:
    wal = Path(str(make_url(sqlite_url).database) + "-wal")
    store = await open_store(sqlite_url, engine=True)
    largest = 0
    written = 0
    try:
        await store.check_schema()
        page = await store._runner.run(
            lambda c: c.exec_driver_sql("PRAGMA page_size").scalar_one()
        )
        limit = BACKSTOP_PAGES * int(page)
        text = "x" * 8000  # a page and more each: overflow pages
        i = 0
        while written < 2 * limit:  # twice what the log may hold, committed back to back
            await store.accept(
                [NewInbound("web", f"m{i}-{j}", f"c{j}", {"text": text}) for j in range(10)]
            )
            written += 10 * len(text)
            largest = max(largest, (await asyncio.to_thread(wal.stat)).st_size)
            i += 1
    finally:
        await store.close()
    assert largest < 1.5 * limit
