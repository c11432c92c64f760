"""The customer side: the Telegram emulator, the server process under test, the load generator.

The emulator (`TelegramEmulator`, the project's own) and the load generator share the
benchmark process and its event loop; the server under test runs in a child process, so each
side has a core of its own on a 2-core machine. A reply is matched to the message that caused
it by chat id: each customer has exactly one message in flight, and the emulator's recorder
resolves that customer's future when the bot's sendMessage to the chat arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import ClientSession, TCPConnector

from adapters.emulators import Call, TelegramEmulator
from tests.benchmarks.common import (
    SECRET,
    TOKEN,
    WEBHOOK_PATH,
    dialog_turn,
    machine_busy_seconds,
    proc_cpu_seconds,
    tree_cpu_seconds,
)

REPO = Path(__file__).resolve().parents[2]


class BenchAborted(Exception):
    """A run could not finish: a wrong or missing reply, a server error, or the time limit."""


class BenchEmulator(TelegramEmulator):
    """The Telegram emulator, plus a future per chat resolved when the bot sends to it."""

    def __init__(self) -> None:
        super().__init__(TOKEN)
        self.waiting: dict[str, asyncio.Future[tuple[float, int | None, str]]] = {}
        self.unexpected: list[str] = []

    def _record(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int | None,
        response: Any = None,
        *,
        recipient: str | None = None,
        text: str | None = None,
    ) -> Call:
        at = time.perf_counter()
        call = super()._record(method, params, status, response, recipient=recipient, text=text)
        if recipient is not None:
            future = self.waiting.pop(recipient, None)
            if future is None or future.done():
                self.unexpected.append(f"{method} to {recipient}: {text!r} (status {status})")
            else:
                future.set_result((at, status, text or ""))
        return call


# --- the server process ---------------------------------------------------------------------


class ServerProcess:
    """A server from `tests.benchmarks.servers`, running in a child process."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def cpu(self) -> float:
        """CPU seconds the server process and its child processes used so far (Baton's
        send processes, with `--send-processes`)."""
        return tree_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self, timeout: float = 30.0) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _open_log(path: Path) -> BinaryIO:
    return open(path, "ab")


@asynccontextmanager
async def server_process(
    kind: str,
    args: Sequence[str],
    log_path: Path,
    *,
    start_timeout: float = 60.0,
    stop_timeout: float = 30.0,
    tree: Path | None = None,
) -> AsyncIterator[ServerProcess]:
    """Start `python -m tests.benchmarks.servers KIND ARGS...`; stop it on exit.

    `tree`: run the server from this checkout of Baton instead (`run.py --compare-to`)."""
    root = tree or REPO
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    with _open_log(log_path) as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmarks.servers",
            kind,
            *args,
            cwd=str(root),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    assert proc.stdout is not None
    server: ServerProcess | None = None
    try:
        try:
            async with asyncio.timeout(start_timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        break
                    if line.startswith(b"READY "):
                        server = ServerProcess(proc, int(line.split()[1]), log_path)
                        break
        except TimeoutError:
            pass
        if server is None:
            tail = ServerProcess(proc, 0, log_path).log_tail()
            raise BenchAborted(
                f"the {kind} server did not start within {start_timeout:.0f}s "
                f"(exit code {proc.returncode}); its log {log_path} ends:\n{tail}"
            )
        yield server
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), stop_timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# --- the load generator ---------------------------------------------------------------------


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause this process's garbage collector while the block runs.

    The emulator keeps every call it answers; with tens of thousands of them a full collection
    in the benchmark process stalls the emulator and the customers for up to ~100 ms, which
    would show up as the server's latency (measured: p99 108 ms -> 55 ms for the ceiling).
    The server under test keeps its collector: that cost is part of what is measured.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@dataclass
class Customers:
    """Customers and where each is in its dialog (step 0-2, and how many dialogs so far)."""

    ids: list[int]
    step: dict[int, int] = field(default_factory=dict)
    rounds: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for uid in self.ids:
            self.step.setdefault(uid, 0)
            self.rounds.setdefault(uid, 0)

    def advance(self, uid: int) -> None:
        step = self.step[uid] + 1
        if step == 3:
            step = 0
            self.rounds[uid] += 1
        self.step[uid] = step


@dataclass
class LoadResult:
    """What one load phase measured."""

    messages: int
    seconds: float
    latencies: list[float]


async def drive(
    emulator: BenchEmulator,
    webhook_url: str,
    session: ClientSession,
    customers: Customers,
    *,
    total: int,
    inflight: int,
    time_limit: float,
    reply_timeout: float = 60.0,
    what: str = "run",
) -> LoadResult:
    """Send `total` messages, `inflight` customers at a time, each customer waiting for the
    reply to its previous message; returns per-message latencies (seconds)."""
    if len(customers.ids) < inflight:
        raise ValueError(f"need at least {inflight} customers for {inflight} in flight")
    loop = asyncio.get_running_loop()
    idle: deque[int] = deque(customers.ids)
    latencies: list[float] = []
    claimed = 0

    async def customer_loop() -> None:
        nonlocal claimed
        while claimed < total:
            claimed += 1
            uid = idle.popleft()
            turn = dialog_turn(uid, customers.step[uid], customers.rounds[uid])
            chat = str(uid)
            future: asyncio.Future[tuple[float, int | None, str]] = loop.create_future()
            emulator.waiting[chat] = future
            sent_at = time.perf_counter()
            result = await emulator.customer_text(
                webhook_url, SECRET, user_id=uid, text=turn.text, session=session
            )
            if result.status != 200:
                raise BenchAborted(
                    f"{what}: the webhook answered {result.status} to {turn.text!r} from "
                    f"customer {uid}: {result.body[:200]}"
                )
            try:
                at, status, text = await asyncio.wait_for(future, reply_timeout)
            except TimeoutError:
                raise BenchAborted(
                    f"{what}: no reply to {turn.text!r} from customer {uid} within "
                    f"{reply_timeout:.0f}s"
                ) from None
            if status != 200 or text != turn.expect:
                raise BenchAborted(
                    f"{what}: customer {uid} sent {turn.text!r} and got {text!r} "
                    f"(status {status}); expected {turn.expect!r}"
                )
            latencies.append(at - sent_at)
            customers.advance(uid)
            idle.append(uid)

    started = time.perf_counter()
    tasks = [loop.create_task(customer_loop()) for _ in range(min(inflight, total))]
    try:
        async with asyncio.timeout(time_limit):
            await asyncio.gather(*tasks)
    except TimeoutError:
        raise BenchAborted(
            f"{what} aborted: only {len(latencies)} of {total} messages were answered within "
            f"the time limit of {time_limit:.0f}s (--time-limit)"
        ) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - started
    if emulator.unexpected:
        raise BenchAborted(
            f"{what}: {len(emulator.unexpected)} unexpected bot messages, e.g. "
            f"{emulator.unexpected[:3]}"
        )
    return LoadResult(len(latencies), elapsed, latencies)


def client_session(inflight: int) -> ClientSession:
    """The customers' HTTP client: keep-alive connections, one per customer in flight."""
    return ClientSession(connector=TCPConnector(limit=inflight + 8, limit_per_host=0))


# --- PostgreSQL databases -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PgDatabase:
    """A benchmark's own PostgreSQL database."""

    admin: str
    """asyncpg DSN of the server's maintenance database (the --postgres URL)."""
    name: str
    url: str
    """Baton's URL of the database (postgresql+asyncpg://...)."""


def postgres_urls(base: str, name: str) -> tuple[str, str]:
    """(asyncpg admin DSN of `base`, Baton URL of database `name` on the same server)."""
    from sqlalchemy.engine import make_url

    url = make_url(base)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    baton = url.set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )
    return admin, baton


@asynccontextmanager
async def fresh_postgres(base: str) -> AsyncIterator[PgDatabase]:
    """A new, empty PostgreSQL database on the server of `base`; dropped on exit."""
    import asyncpg

    name = f"baton_bench_{uuid.uuid4().hex[:12]}"
    admin, url = postgres_urls(base, name)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield PgDatabase(admin, name, url)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# --- measuring a window -----------------------------------------------------------------------


def _postmaster_pid() -> int | None:
    """The PostgreSQL server's main process on this machine, if one is visible."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read().decode()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        ppid = int(raw[raw.rindex(")") + 2 :].split()[1])
        if comm != "postgres":
            continue
        try:
            with open(f"/proc/{ppid}/comm") as f:
                parent = f.read().strip()
        except OSError:
            parent = ""
        if parent != "postgres":
            return int(entry)
    return None


class PgSampler:
    """CPU of the PostgreSQL backends serving one database, sampled every `interval` seconds.

    Backends are the postmaster's children whose process title names the database; a backend
    that exits between two samples loses at most `interval` of its CPU (a lower bound). Shared
    background processes (WAL writer, checkpointer) are not counted here.
    """

    def __init__(self, database: str, interval: float = 0.05) -> None:
        self.database = database
        self.interval = interval
        self.postmaster = _postmaster_pid()
        self._ours: dict[int, bool] = {}
        self._base: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    def poll(self) -> None:
        if self.postmaster is None:
            return
        pm = self.postmaster
        try:
            with open(f"/proc/{pm}/task/{pm}/children") as f:
                children = [int(x) for x in f.read().split()]
        except OSError:
            return
        first = not self._last and not self._ours
        for pid in children:
            ours = self._ours.get(pid)
            if ours is None:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        title = f.read().decode(errors="replace")
                except OSError:
                    continue
                ours = self._ours[pid] = f" {self.database} " in title
            if not ours:
                continue
            try:
                cpu = proc_cpu_seconds(pid)
            except (OSError, ValueError):
                continue
            if first:
                self._base[pid] = cpu
            self._last[pid] = cpu

    def total(self) -> float:
        """CPU seconds used by the database's backends since the first poll."""
        self.poll()
        return sum(cpu - self._base.get(pid, 0.0) for pid, cpu in self._last.items())

    @property
    def backends(self) -> int:
        """Distinct backends of the database seen so far (connections opened)."""
        return len(self._last)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.poll()

    def start(self) -> None:
        self.poll()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.poll()


@asynccontextmanager
async def pg_sampling(pg: PgDatabase | None) -> AsyncIterator[PgSampler | None]:
    """Sample `pg`'s backends while the block runs (nothing without PostgreSQL)."""
    if pg is None:
        yield None
        return
    sampler = PgSampler(pg.name)
    sampler.start()
    try:
        yield sampler
    finally:
        await sampler.stop()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Clocks at one instant."""

    wall: float
    server: float
    load: float
    machine: float
    db: float
    db_backends: int


def snapshot(server: ServerProcess, pg: PgSampler | None) -> Snapshot:
    """Wall clock, CPU of the server, of this process, of the machine, of `pg`'s backends."""
    return Snapshot(
        time.perf_counter(),
        server.cpu(),
        time.process_time(),
        machine_busy_seconds(),
        pg.total() if pg is not None else math.nan,
        pg.backends if pg is not None else 0,
    )


def window(a: Snapshot, b: Snapshot, messages: int) -> dict[str, float]:
    """CPU per message and utilisation (percent of one core) between two snapshots.

    `db_cpu_ms_per_msg` is the CPU of the PostgreSQL backends serving the benchmark's database
    (NaN without PostgreSQL); `other_cpu_pct` is what every other process on the machine used
    meanwhile (other people's tests, PostgreSQL's background writers, the kernel).
    """
    wall = b.wall - a.wall
    server = b.server - a.server
    load = b.load - a.load
    db = b.db - a.db
    others = (b.machine - a.machine) - server - load - (0.0 if math.isnan(db) else db)
    return {
        "server_cpu_ms_per_msg": server * 1000 / messages,
        "db_cpu_ms_per_msg": db * 1000 / messages,
        "server_cpu_pct": server / wall * 100,
        "load_cpu_pct": load / wall * 100,
        "other_cpu_pct": max(0.0, others) / wall * 100,
        "pg_backends": float(b.db_backends),
    }
