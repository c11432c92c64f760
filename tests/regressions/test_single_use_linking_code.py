"""A linking code is single use on every process: many identities redeeming one code at the
same moment, from two OS processes on PostgreSQL (and from one process on SQLite), link
exactly one of them."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage import NewInbound, Store, open_store
from storage.identities import Linking
from tests.support.databases import fresh_database

ROUNDS = 20
PER_PROCESS = 6
_ROOT = Path(__file__).resolve().parents[2]

# A child process: opens its own store, says "ready", then for each line it reads (a code and
# the (customer, identity) pairs that redeem it) redeems them all at once and prints the
# outcomes as one JSON line.
_CHILD = """
import asyncio, json, sys
from storage import open_store
from storage.identities import Linking

async def main(url):
    store = await open_store(url)
    linking = Linking(store)
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            job = json.loads(line)
            done = await asyncio.gather(
                *(linking.redeem(job["code"], c, i) for c, i in job["pairs"])
            )
            print(json.dumps([r.status for r in done]), flush=True)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1]))
"""


async def _customers(store: Store, tag: str, count: int) -> list[tuple[int, int]]:
    """`count` new customers, each with one web identity: (customer id, identity id)."""
    accepted = await store.accept(
        [NewInbound("web", f"{tag}-{n}", f"{tag}-{n}", {"text": "hi"}) for n in range(count)]
    )
    return [(a.customer_id, a.identity_id) for a in accepted if a is not None]


@asynccontextmanager
async def _child(url: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=_ROOT,
    )
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"ready\n"
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _merges(store: Store) -> int:
    return await store.count("merge_log")


async def test_one_code_redeemed_from_two_processes_links_one_identity(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        store = await open_store(url)
        try:
            await store.check_schema()
            linking = Linking(store)
            async with _child(url) as one, _child(url) as two:
                for round_ in range(ROUNDS):
                    (holder,) = await _customers(store, f"holder{round_}", 1)
                    code = await linking.new_code(*holder)
                    pairs = await _customers(store, f"r{round_}", 2 * PER_PROCESS)
                    before = await _merges(store)
                    for proc, half in ((one, pairs[:PER_PROCESS]), (two, pairs[PER_PROCESS:])):
                        assert proc.stdin is not None
                        proc.stdin.write(json.dumps({"code": code, "pairs": half}).encode())
                        proc.stdin.write(b"\n")
                    await asyncio.gather(one.stdin.drain(), two.stdin.drain())  # type: ignore[union-attr]
                    outcomes: list[str] = []
                    for proc in (one, two):
                        assert proc.stdout is not None
                        line = await asyncio.wait_for(proc.stdout.readline(), 60)
                        outcomes += json.loads(line)
                    assert sorted(outcomes) == ["invalid"] * (2 * PER_PROCESS - 1) + ["linked"], (
                        f"round {round_}"
                    )
                    assert await _merges(store) == before + 1
        finally:
            await store.close()


async def test_one_code_redeemed_at_once_in_one_process_links_one_identity(
    sqlite_url: str,
) -> None:
    store = await open_store(sqlite_url)
    try:
        await store.check_schema()
        linking = Linking(store)
        for round_ in range(ROUNDS):
            (holder,) = await _customers(store, f"holder{round_}", 1)
            code = await linking.new_code(*holder)
            pairs = await _customers(store, f"r{round_}", 2 * PER_PROCESS)
            done = await asyncio.gather(*(linking.redeem(code, c, i) for c, i in pairs))
            outcomes = sorted(r.status for r in done)
            assert outcomes == ["invalid"] * (2 * PER_PROCESS - 1) + ["linked"]
    finally:
        await store.close()
