"""`baton customer export|erase` and `baton retention [--dry-run]` as an admin runs them,
on a database a real Baton wrote through the Telegram emulator."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from sqlalchemy import text

from bot.demo import app as demo_app
from bot.privacy import Privacy
from bot.testing import chat_on
from storage import open_store
from tests.e2e.test_privacy import sqlite_files
from tests.support.command import BATON, user_env

PLANTED = "qqcliplant881"


async def baton(url: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        BATON,
        *args,
        env=user_env({"BATON_DATABASE_URL": url}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_export_retention_and_erase_from_the_command_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with chat_on("telegram", demo_app, database_url=sqlite_url) as chat:
        for n in range(3):
            await chat.send(f"{PLANTED} {n}")
            await chat.next_reply()
        await chat.baton.engine.idle()
        found = await chat.baton.store.identity("telegram", chat.identity)
        assert found is not None
        customer_id = found[1]
    store = await open_store(sqlite_url)
    try:
        await store._runner.run(
            lambda conn: conn.execute(
                text("UPDATE messages SET created_at = created_at - 800 * 86400 WHERE id <= 3")
            )
        )
    finally:
        await store.close()

    out_file = tmp_path / "export.html"
    code, _, err = await baton(
        sqlite_url, "customer", "export", str(customer_id), "--html", "--out", str(out_file)
    )
    assert (code, err) == (0, "")
    page = out_file.read_text()
    assert f"{PLANTED} 0" in page
    assert "<script" not in page
    code, out, _ = await baton(sqlite_url, "customer", "export", str(customer_id))
    assert code == 0
    assert json.loads(out)["customer_id"] == customer_id

    now = str(time.time())
    code, out, _ = await baton(sqlite_url, "retention", "--dry-run", "--now", now)
    assert code == 0
    listed = json.loads(out)["due"]
    assert listed["messages"] == [1, 2, 3]
    code, out, _ = await baton(sqlite_url, "retention", "--now", now)
    assert code == 0
    done = json.loads(out)
    assert done["due"] == listed
    assert done["deleted"]["messages"] == 3

    code, _, err = await baton(sqlite_url, "customer", "erase", str(customer_id))
    assert code == 2  # no terminal to confirm on
    assert "--yes" in err
    code, out, _ = await baton(sqlite_url, "customer", "erase", str(customer_id), "--yes")
    assert code == 0
    assert f"erased customer {customer_id}" in out
    assert PLANTED.encode() not in sqlite_files(sqlite_url)
    code, _, err = await baton(sqlite_url, "customer", "export", "999")
    assert code == 1
    assert "no customer 999" in err


async def test_an_erasure_from_the_command_line_while_baton_serves(sqlite_url: str) -> None:
    async with chat_on("telegram", demo_app, database_url=sqlite_url) as chat:
        await chat.send(f"{PLANTED} before")
        await chat.next_reply()
        await chat.baton.engine.idle()
        found = await chat.baton.store.identity("telegram", chat.identity)
        assert found is not None
        erased = found[1]
        code, _, _ = await baton(sqlite_url, "customer", "erase", str(erased), "--yes")
        assert code == 0
        await chat.baton.engine.feature(Privacy).catch_up()  # what its timer does
        # The serving process still had the identity cached: the next message goes to a new
        # customer all the same, and nothing of it lands on the erased one.
        await chat.send(f"{PLANTED} after")
        await chat.next_reply()
        await chat.baton.engine.idle()
        found = await chat.baton.store.identity("telegram", chat.identity)
        assert found is not None
        assert found[1] != erased
        texts = await chat.baton.store._runner.run(
            lambda conn: [
                r[0]
                for r in conn.execute(
                    text("SELECT text FROM messages WHERE customer_id = :c"), {"c": erased}
                )
            ]
        )
        assert all(t is None for t in texts)
