"""CPU per message of the storage layer alone (no HTTP, no flows).

Drives the store the way the engine does for each message, for many customers at once:
`accept` -> `load_state` (once per customer) -> `commit_turn` (one reply, one journal row)
-> `outbox_sent`. Prints the process CPU (`time.process_time()`, every thread, so the SQLite
thread counts) per message. Not a test: pytest never collects it.

    python -m tests.benchmarks.micro_store --messages 3000 --runs 3
    python -m tests.benchmarks.micro_store --postgres postgresql://postgres@127.0.0.1:5432/test
    python -m tests.benchmarks.micro_store --no-sqlite --claim --postgres postgresql://...
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage import (
    CustomerState,
    JournalRow,
    NewInbound,
    ReplyWrite,
    Store,
    TurnWrite,
    open_store,
)
from tests.benchmarks.load import fresh_postgres

ASKS = ["What's your name?", "What's your order number?", "Thanks, noted."]


@asynccontextmanager
async def sqlite_url() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(prefix="baton-micro-") as folder:
        yield f"sqlite+aiosqlite:///{Path(folder) / 'baton.db'}"


@asynccontextmanager
async def postgres_url(base: str) -> AsyncIterator[str]:
    async with fresh_postgres(base) as database:
        yield database.url


class Customer:
    """One customer's side: a 3-turn dialog repeated, with a flow run per dialog."""

    def __init__(self, user: int) -> None:
        self.user = user
        self.external_id = str(10_000_000 + user)
        self.state: CustomerState | None = None
        self.step = 0
        self.sent = 0

    async def message(self, store: Store, claim: bool) -> None:
        self.sent += 1
        text = "hi" if self.step == 0 else f"answer {self.user} {self.sent}"
        mid = f"{self.external_id}:{self.sent}"
        payload = {
            "channel": "telegram",
            "message_id": mid,
            "identity": self.external_id,
            "text": text,
            "route": self.external_id,
            "display_name": f"Ada {self.user}",
            "at": time.time(),
        }
        (acc,) = await store.accept(
            [
                NewInbound(
                    "telegram",
                    mid,
                    self.external_id,
                    payload,
                    route=self.external_id,
                    display_name=f"Ada {self.user}",
                )
            ]
        )
        assert acc is not None
        if claim:  # several engine processes (PostgreSQL): a lane takes the customer's lease
            got = await store.claim(acc.customer_id, 30.0)
            assert got is not None
            assert got.rows
            self.state = got.state
        elif self.state is None:
            self.state = await store.load_state(acc.customer_id)
        state = self.state
        turn = TurnWrite(
            inbox_id=acc.inbox_id,
            customer_id=acc.customer_id,
            conversation_id=state.conversation_id,
            identity_id=acc.identity_id,
            channel="telegram",
            inbound_text=text,
            inbound_payload={"text": text},
            inbound_platform_id=mid,
            active_run_id=state.active_run_id,
        )
        if self.step == 0 or state.active_run_id is None:
            state.active_run_id = uuid.uuid4().hex
            turn.new_runs = [(state.active_run_id, "order")]
            state.journal = []
        run_id = state.active_run_id
        if self.step > 0:
            row = JournalRow(len(state.journal), "answer", f"ask:{self.step}", {"text": text})
            turn.journal.append((run_id, row))
            state.journal.append(row)
        row = JournalRow(len(state.journal), "say", f"say:{self.step}", ASKS[self.step])
        turn.journal.append((run_id, row))
        state.journal.append(row)
        ask = ASKS[self.step]
        turn.replies = [
            ReplyWrite(
                "telegram", acc.identity_id, self.external_id, self.external_id, ask, {"text": ask}
            )
        ]
        if self.step == 2:
            turn.ended_runs = [(run_id, "done")]
            state.active_run_id = None
            turn.memory = {"name": f"Ada{self.user}", "order": self.sent}
        turn.active_run_id = state.active_run_id
        (out,) = await store.commit_turn(turn)
        if claim:
            assert await store.release_if_idle(acc.customer_id)
        await store.outbox_sent(out, [str(self.sent)])
        self.step = (self.step + 1) % 3


async def drive(
    store: Store, customers: list[Customer], messages: int, inflight: int, claim: bool
) -> None:
    """`messages` messages over `inflight` workers; a customer is never handled twice at once."""
    queue: asyncio.Queue[Customer] = asyncio.Queue()
    for c in customers:
        queue.put_nowait(c)
    left = messages

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            c = await queue.get()
            await c.message(store, claim)
            queue.put_nowait(c)

    await asyncio.gather(*(worker() for _ in range(inflight)))


async def one_run(url: str, args: argparse.Namespace) -> tuple[float, float]:
    store = await open_store(url, engine=True)
    try:
        await store.check_schema()
        customers = [Customer(i) for i in range(args.customers)]
        claim = args.claim and not store.exclusive
        await drive(store, customers, args.warmup, args.inflight, claim)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await drive(store, customers, args.messages, args.inflight, claim)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await store.close()
    return cpu / args.messages * 1e6, wall / args.messages * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL: also measure PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--claim",
        action="store_true",
        help="on PostgreSQL, take and give back the customer's lease per message, as the "
        "engine does when several processes may share the database",
    )
    args = parser.parse_args()
    kinds = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    for kind in kinds:
        cpus: list[float] = []
        walls: list[float] = []
        for _ in range(args.runs):
            db = sqlite_url() if kind == "sqlite" else postgres_url(args.postgres)
            async with db as url:
                cpu, wall = await one_run(url, args)
            cpus.append(cpu)
            walls.append(wall)
            print(f"  {kind}: {cpu:7.1f} us CPU/msg  {wall:7.1f} us wall/msg", flush=True)
        print(
            f"{kind}: median {statistics.median(cpus):.1f} us CPU/msg "
            f"(runs {', '.join(f'{c:.1f}' for c in cpus)}), "
            f"median {statistics.median(walls):.1f} us wall/msg",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
