"""Baton's throughput benchmark: Baton against a bare-aiohttp ceiling and an aiogram FSM bot.

    python -m tests.benchmarks.run [--postgres URL] [--customers 1000] [--messages 20000]
        [--inflight 64] [--runs 3] [--out results.json] [--growth] [--profile]

See tests/benchmarks/README.md for what is measured and how to read the table. Nothing here
asserts a time: targets are printed as PASS/FAIL for people to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bot.event_loop import resolve
from tests.benchmarks.common import machine_busy_seconds, median, percentile, remove_sqlite
from tests.benchmarks.growth import growth_run
from tests.benchmarks.load import (
    REPO,
    BenchAborted,
    BenchEmulator,
    Customers,
    PgDatabase,
    ServerProcess,
    client_session,
    drive,
    fresh_postgres,
    no_gc,
    pg_sampling,
    server_process,
    snapshot,
    window,
)
from tests.benchmarks.servers import WHAT_IF

RESULTS = REPO / "tests" / "benchmarks" / "results"
CUSTOMER_BASE = 1_000_000
"""Telegram user ids of the measured customers: CUSTOMER_BASE + 0 .. customers - 1."""
WARM_BASE = 9_000_000
"""Telegram user ids of the warm-up customers."""

TARGETS = {
    "throughput_vs_ceiling": 0.6,
    "throughput_vs_aiogram": 1.5,
    "p99_vs_ceiling": 2.0,
    "growth": 1.1,
}


@dataclass(frozen=True, slots=True)
class Variant:
    """A server under test."""

    name: str
    kind: str
    """"baton", "ceiling" or "aiogram"."""
    backend: str
    """"sqlite", "postgres" or "memory"."""
    what_if: tuple[str, ...] = ()
    """Runtime experiments applied to this Baton (see `--what-if`)."""
    loop: str = ""
    """A baseline's event loop: "" for asyncio's own, "uvloop" (`--baselines-on-uvloop`)."""
    tree: Path | None = None
    """Another checkout this Baton runs from (`--compare-to`); None for this one."""


@dataclass(frozen=True, slots=True)
class Config:
    """The command line."""

    postgres: str | None
    customers: int
    messages: int
    inflight: int
    runs: int
    warmup: int
    time_limit: float
    out: Path
    workdir: Path
    only: tuple[str, ...]
    throughput: bool
    growth: bool
    growth_messages: int
    growth_history: int
    profile: bool
    profile_messages: int
    wait_quiet: float
    what_if: tuple[str, ...] = ()
    send_processes: int = 0
    baselines_on_uvloop: bool = False
    compare_to: tuple[Path, ...] = ()


def variants(cfg: Config) -> list[Variant]:
    """The variants to run, in the interleaving order."""
    all_variants = [Variant("baton-sqlite", "baton", "sqlite")]
    if cfg.postgres:
        all_variants.append(Variant("baton-postgres", "baton", "postgres"))
    if cfg.what_if:
        tag = "+" + "+".join(cfg.what_if)
        all_variants += [
            Variant(v.name + tag, v.kind, v.backend, cfg.what_if) for v in list(all_variants)
        ]
    shipped = [v for v in all_variants if not v.what_if]
    for tree in cfg.compare_to:
        all_variants += [
            Variant(f"{v.name}@{tree.name}", v.kind, v.backend, tree=tree) for v in shipped
        ]
    all_variants += [
        Variant("ceiling", "ceiling", "sqlite"),
        Variant("aiogram", "aiogram", "memory"),
    ]
    if cfg.baselines_on_uvloop:
        all_variants += [
            Variant("ceiling+uvloop", "ceiling", "sqlite", loop="uvloop"),
            Variant("aiogram+uvloop", "aiogram", "memory", loop="uvloop"),
        ]
    if cfg.only:
        all_variants = [
            v
            for v in all_variants
            if v.name in cfg.only
            or v.kind in cfg.only
            or v.name.split("+")[0].split("@")[0] in cfg.only
        ]
    return all_variants


@asynccontextmanager
async def variant_server(
    v: Variant, api_base: str, cfg: Config, tag: str, profile: Path | None
) -> AsyncIterator[tuple[ServerProcess, PgDatabase | None]]:
    """Start the server of variant `v` on a fresh database; stop it and drop the database."""
    log = cfg.workdir / f"{tag}.log"
    extra = ["--profile", str(profile)] if profile is not None else []
    # Writing a long profile takes a while after SIGTERM.
    stop = 600.0 if profile is not None else 30.0
    if v.what_if:
        extra += ["--what-if", ",".join(v.what_if)]
    if v.kind == "baton" and cfg.send_processes:
        extra += ["--send-processes", str(cfg.send_processes)]
    if v.loop:
        extra += ["--loop", v.loop]
    if v.kind == "baton" and v.backend == "postgres":
        assert cfg.postgres is not None
        async with (
            fresh_postgres(cfg.postgres) as pg,
            server_process(
                "baton",
                ["--api-base", api_base, "--database-url", pg.url, *extra],
                log,
                stop_timeout=stop,
                tree=v.tree,
            ) as server,
        ):
            yield server, pg
        return
    if v.kind == "aiogram":
        async with server_process("aiogram", ["--api-base", api_base, *extra], log) as server:
            yield server, None
        return
    path = cfg.workdir / f"{tag}.db"
    remove_sqlite(path)
    args = (
        ["--api-base", api_base, "--database-url", f"sqlite+aiosqlite:///{path}", *extra]
        if v.kind == "baton"
        else ["--api-base", api_base, "--sqlite-path", str(path), *extra]
    )
    try:
        async with server_process(v.kind, args, log, stop_timeout=stop, tree=v.tree) as server:
            yield server, None
    finally:
        remove_sqlite(path)


async def wait_quiet(limit: float, threshold: float = 25.0) -> float:
    """Wait until other processes use under `threshold`% of a core (a 1 s sample), at most
    `limit` seconds; returns the last sample."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        before, load_before = machine_busy_seconds(), time.process_time()
        await asyncio.sleep(1.0)
        busy = (machine_busy_seconds() - before - (time.process_time() - load_before)) * 100
        if busy < threshold or loop.time() >= deadline:
            return busy


async def one_run(
    v: Variant, cfg: Config, run_no: int, profile: Path | None = None
) -> dict[str, Any]:
    """One throughput run of variant `v`: warm up, then the measured window."""
    tag = f"{v.name}-{run_no}" + ("-profile" if profile else "")
    emulator = BenchEmulator()
    runner, api_base = await emulator.serve()
    try:
        with no_gc():
            async with (
                variant_server(v, api_base, cfg, tag, profile) as (server, pg),
                client_session(cfg.inflight) as session,
            ):
                if cfg.warmup:
                    warm = Customers([WARM_BASE + i for i in range(cfg.inflight)])
                    await drive(
                        emulator,
                        server.webhook_url,
                        session,
                        warm,
                        total=cfg.warmup,
                        inflight=cfg.inflight,
                        time_limit=cfg.time_limit,
                        what=f"{tag} warm-up",
                    )
                customers = Customers([CUSTOMER_BASE + i for i in range(cfg.customers)])
                async with pg_sampling(pg) as sampler:
                    before = snapshot(server, sampler)
                    result = await drive(
                        emulator,
                        server.webhook_url,
                        session,
                        customers,
                        total=cfg.messages,
                        inflight=cfg.inflight,
                        time_limit=cfg.time_limit,
                        what=tag,
                    )
                    after = snapshot(server, sampler)
    finally:
        await runner.cleanup()
    n = result.messages
    lat = sorted(result.latencies)
    return {
        "variant": v.name,
        "run": run_no,
        "messages": n,
        "seconds": result.seconds,
        "msgs_per_s": n / result.seconds,
        "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "mean_ms": sum(lat) / n * 1000,
    } | _with_capacity(window(before, after, n))


def _with_capacity(w: dict[str, float]) -> dict[str, float]:
    """Add what one core could serve at this CPU cost (server, plus PostgreSQL backends)."""
    db = w["db_cpu_ms_per_msg"]
    w["capacity_per_core"] = 1000 / (w["server_cpu_ms_per_msg"] + (0.0 if math.isnan(db) else db))
    return w


# --- summary ----------------------------------------------------------------------------------

_COLUMNS = [
    ("msgs_per_s", "msgs/s", "{:9.0f}"),
    ("p50_ms", "p50 ms", "{:8.1f}"),
    ("p95_ms", "p95 ms", "{:8.1f}"),
    ("p99_ms", "p99 ms", "{:8.1f}"),
    ("server_cpu_ms_per_msg", "srv CPU ms/msg", "{:15.3f}"),
    ("capacity_per_core", "msgs/s/core", "{:12.0f}"),
    ("db_cpu_ms_per_msg", "PG CPU ms/msg", "{:14.3f}"),
    ("server_cpu_pct", "srv CPU%", "{:9.0f}"),
    ("load_cpu_pct", "load CPU%", "{:10.0f}"),
    ("other_cpu_pct", "other CPU%", "{:11.0f}"),
]


def summarise(runs: list[dict[str, Any]], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per variant: the median over its completed runs of every measured column."""
    out: dict[str, dict[str, float]] = {}
    for name in names:
        done = [r for r in runs if r["variant"] == name and "error" not in r]
        if not done:
            continue
        out[name] = {key: median([r[key] for r in done]) for key, _, _ in _COLUMNS}
        out[name]["runs"] = len(done)
    return out


def _fmt(fmt: str, value: float) -> str:
    width = len(fmt.format(0.0))
    return "-".rjust(width) if math.isnan(value) else fmt.format(value)


def table(summary: dict[str, dict[str, float]]) -> str:
    """The medians as a text table."""
    width = max([16, *(len(name) + 1 for name in summary)])
    head = f"{'variant':<{width}}{'runs':>5}" + "".join(
        label.rjust(len(fmt.format(0.0))) for _, label, fmt in _COLUMNS
    )
    lines = [head, "-" * len(head)]
    for name, row in summary.items():
        cells = "".join(_fmt(fmt, row[key]) for key, _, fmt in _COLUMNS)
        lines.append(f"{name:<{width}}{int(row['runs']):>5}{cells}")
    return "\n".join(lines)


def ratios(summary: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Each Baton variant against the ceiling and aiogram, with the targets."""
    out: dict[str, dict[str, Any]] = {}
    ceiling, aiogram = summary.get("ceiling"), summary.get("aiogram")
    for name, row in summary.items():
        if not name.startswith("baton"):
            continue
        r: dict[str, Any] = {}
        if ceiling:
            r["throughput_vs_ceiling"] = row["msgs_per_s"] / ceiling["msgs_per_s"]
            r["p99_vs_ceiling"] = row["p99_ms"] / ceiling["p99_ms"]
            r["cpu_per_msg_vs_ceiling"] = (
                row["server_cpu_ms_per_msg"] / ceiling["server_cpu_ms_per_msg"]
            )
        if aiogram:
            r["throughput_vs_aiogram"] = row["msgs_per_s"] / aiogram["msgs_per_s"]
            r["p99_vs_aiogram"] = row["p99_ms"] / aiogram["p99_ms"]
            r["cpu_per_msg_vs_aiogram"] = (
                row["server_cpu_ms_per_msg"] / aiogram["server_cpu_ms_per_msg"]
            )
        checks: dict[str, bool] = {}
        if "throughput_vs_ceiling" in r:
            checks["throughput >= 0.6x ceiling"] = (
                r["throughput_vs_ceiling"] >= TARGETS["throughput_vs_ceiling"]
            )
            checks["p99 <= 2x ceiling"] = r["p99_vs_ceiling"] <= TARGETS["p99_vs_ceiling"]
        if "throughput_vs_aiogram" in r:
            checks["throughput >= 1.5x aiogram"] = (
                r["throughput_vs_aiogram"] >= TARGETS["throughput_vs_aiogram"]
            )
        r["targets"] = checks
        same_loop = summary.get("ceiling+uvloop")
        if same_loop:
            r["throughput_vs_ceiling_uvloop"] = row["msgs_per_s"] / same_loop["msgs_per_s"]
            r["p99_vs_ceiling_uvloop"] = row["p99_ms"] / same_loop["p99_ms"]
        same_loop = summary.get("aiogram+uvloop")
        if same_loop:
            r["throughput_vs_aiogram_uvloop"] = row["msgs_per_s"] / same_loop["msgs_per_s"]
        out[name] = r
    return out


def add_round_ratios(rs: dict[str, dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    """Each Baton variant's msgs/s and p99 against the ceiling's of the same round.

    The medians' ratios compare runs of different rounds; these show how much the ratio moves
    from round to round when the machine's speed drifts."""
    by_round: dict[tuple[str, int], dict[str, Any]] = {
        (r["variant"], r["run"]): r for r in runs if "error" not in r
    }
    for name, r in rs.items():
        for reference, key in (("ceiling", "per_round"), ("ceiling+uvloop", "per_round_uvloop")):
            rounds = []
            for (variant, run_no), row in sorted(by_round.items(), key=lambda kv: kv[0][1]):
                ceiling = by_round.get((reference, run_no))
                if variant != name or ceiling is None:
                    continue
                rounds.append(
                    {
                        "run": run_no,
                        "throughput_vs_ceiling": row["msgs_per_s"] / ceiling["msgs_per_s"],
                        "p99_vs_ceiling": row["p99_ms"] / ceiling["p99_ms"],
                    }
                )
            if rounds:
                r[key] = rounds


def ratio_text(rs: dict[str, dict[str, Any]]) -> str:
    """The ratios and target checks as text."""
    lines = []
    for name, r in rs.items():
        parts = []
        for key, label in (
            ("throughput_vs_ceiling", "msgs/s vs ceiling"),
            ("throughput_vs_aiogram", "msgs/s vs aiogram"),
            ("p99_vs_ceiling", "p99 vs ceiling"),
            ("p99_vs_aiogram", "p99 vs aiogram"),
            ("cpu_per_msg_vs_ceiling", "CPU/msg vs ceiling"),
            ("cpu_per_msg_vs_aiogram", "CPU/msg vs aiogram"),
            ("throughput_vs_ceiling_uvloop", "msgs/s vs ceiling+uvloop"),
            ("p99_vs_ceiling_uvloop", "p99 vs ceiling+uvloop"),
            ("throughput_vs_aiogram_uvloop", "msgs/s vs aiogram+uvloop"),
        ):
            if key in r:
                parts.append(f"{label} {r[key]:.2f}x")
        lines.append(f"{name}: " + ", ".join(parts))
        for key, reference in (("per_round", "ceiling"), ("per_round_uvloop", "ceiling+uvloop")):
            each = r.get(key)
            if each:
                lines.append(
                    f"    per round vs {reference}: msgs/s "
                    + " ".join(f"{x['throughput_vs_ceiling']:.2f}x" for x in each)
                    + ", p99 "
                    + " ".join(f"{x['p99_vs_ceiling']:.2f}x" for x in each)
                )
        for check, ok in r["targets"].items():
            lines.append(f"    target {check:<30} {'PASS' if ok else 'FAIL'}")
    return "\n".join(lines)


def growth_summary(runs: list[dict[str, Any]], small: int, big: int) -> dict[str, Any]:
    """Per backend: medians for the small and big history and their ratio."""
    out: dict[str, Any] = {}
    for backend in sorted({r["backend"] for r in runs if "error" not in r}):
        row: dict[str, Any] = {}
        for history in (small, big):
            done = [
                r
                for r in runs
                if r["backend"] == backend and r["history"] == history and "error" not in r
            ]
            row[str(history)] = {
                key: median([r[key] for r in done])
                for key in ("p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_msg", "db_cpu_ms_per_msg")
            } | {"runs": len(done)}
        s, b = row[str(small)], row[str(big)]
        row["p50_ratio"] = b["p50_ms"] / s["p50_ms"]
        row["cpu_ratio"] = b["cpu_ms_per_msg"] / s["cpu_ms_per_msg"]
        row["pass"] = bool(
            row["p50_ratio"] <= TARGETS["growth"] and row["cpu_ratio"] <= TARGETS["growth"]
        )
        out[backend] = row
    return out


def growth_text(g: dict[str, Any], small: int, big: int) -> str:
    """The growth check as text."""
    lines = [
        f"{'backend':<10}{'history':>9}{'runs':>5}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'srv CPU ms/msg':>15}{'PG CPU ms/msg':>14}"
    ]
    for backend, row in g.items():
        for history in (small, big):
            h = row[str(history)]
            lines.append(
                f"{backend:<10}{history:>9}{h['runs']:>5}{_fmt('{:8.2f}', h['p50_ms'])}"
                f"{_fmt('{:8.2f}', h['p95_ms'])}{_fmt('{:8.2f}', h['p99_ms'])}"
                f"{_fmt('{:15.3f}', h['cpu_ms_per_msg'])}"
                f"{_fmt('{:14.3f}', h['db_cpu_ms_per_msg'])}"
            )
        lines.append(
            f"    {backend}: {big} vs {small} stored: p50 {row['p50_ratio']:.2f}x, "
            f"CPU/msg {row['cpu_ratio']:.2f}x; target <= {TARGETS['growth']}x: "
            f"{'PASS' if row['pass'] else 'FAIL'}"
        )
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """NaN to None (JSON has no NaN), recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _run_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"  {r['variant']:<26} run {r['run']}: ABORTED: {r['error']}"
    db = (
        ""
        if math.isnan(r["db_cpu_ms_per_msg"])
        else f" +PG {r['db_cpu_ms_per_msg']:.2f} ({r['pg_backends']:.0f} backends)"
    )
    return (
        f"  {r['variant']:<26} run {r['run']}: {r['msgs_per_s']:7.0f} msgs/s  "
        f"p50 {r['p50_ms']:6.1f}  p95 {r['p95_ms']:6.1f}  p99 {r['p99_ms']:6.1f} ms  "
        f"CPU {r['server_cpu_ms_per_msg']:.3f} ms/msg{db}  "
        f"(server {r['server_cpu_pct']:.0f}%, load {r['load_cpu_pct']:.0f}%, "
        f"others {r['other_cpu_pct']:.0f}% of a core)"
    )


def _machine() -> dict[str, Any]:
    import aiogram
    import aiohttp

    return {
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "aiogram": aiogram.__version__,
        "platform": platform.platform(),
        "baton_event_loop": resolve("auto"),
    }


async def main_async(cfg: Config) -> int:
    """Run everything the command line asked for; print and write the results."""
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    print(
        f"Baton benchmark on {machine['cpus']} cores, load average {machine['loadavg_at_start']}, "
        f"Python {machine['python']}, aiohttp {machine['aiohttp']}, aiogram {machine['aiogram']}"
    )
    print(
        f"Baton runs on {machine['baton_event_loop']} (BATON_EVENT_LOOP=auto, as shipped); "
        "the ceiling and aiogram on asyncio's own loop"
        + (", and again on uvloop (+uvloop)" if cfg.baselines_on_uvloop else "")
    )
    report: dict[str, Any] = {"config": {k: str(v) for k, v in asdict(cfg).items()}}
    report["machine"] = machine
    if cfg.what_if:
        print(
            f"WHAT-IF: variants named baton-...+{'+'.join(cfg.what_if)} run Baton modified at "
            "runtime; they are experiments, not Baton as shipped"
        )
    for tree in cfg.compare_to:
        print(
            f"COMPARE: variants named baton-...@{tree.name} run Baton from {tree} (another "
            f"checkout), those without @ from {REPO}"
        )
    if cfg.send_processes:
        print(
            f"Baton runs with BATON_SEND_PROCESSES={cfg.send_processes}: its platform calls "
            "are made in child processes, whose CPU counts as the server's"
        )
    failed = False

    names = [v.name for v in variants(cfg)]
    runs: list[dict[str, Any]] = []
    if cfg.throughput:
        print(
            f"Throughput: {cfg.customers} customers, {cfg.messages} messages, {cfg.inflight} in "
            f"flight, {cfg.runs} runs of {', '.join(names)} interleaved"
        )
        for run_no in range(1, cfg.runs + 1):
            for v in variants(cfg):
                if cfg.wait_quiet:
                    await wait_quiet(cfg.wait_quiet)
                try:
                    r = await one_run(v, cfg, run_no)
                except BenchAborted as exc:
                    failed = True
                    r = {"variant": v.name, "run": run_no, "error": str(exc)}
                runs.append(r)
                print(_run_line(r), flush=True)
        summary = summarise(runs, names)
        rs = ratios(summary)
        add_round_ratios(rs, runs)
        report |= {"runs": runs, "summary": summary, "ratios": rs, "targets": TARGETS}
        print()
        print(f"Medians over runs ({cfg.messages} messages each):")
        print(table(summary))
        print()
        print(ratio_text(rs))

    if cfg.profile:
        profiles: dict[str, str] = {}
        for v in variants(cfg):
            if v.kind != "baton" or v.what_if or v.tree is not None:
                continue
            path = cfg.out.parent / f"profile-{v.name}.txt"
            print(
                f"\nProfiling {v.name} (one extra run under pyinstrument, on asyncio's loop, "
                "not in the medians)"
            )
            try:
                r = await one_run(v, replace(cfg, messages=cfg.profile_messages), 0, profile=path)
            except BenchAborted as exc:
                failed = True
                print(f"  profile run ABORTED: {exc}")
                continue
            print(_run_line(r))
            profiles[v.name] = str(path)
            print(f"  profile written to {path}; top functions by self time:")
            print(_profile_head(path))
        report["profiles"] = profiles

    if cfg.growth:
        small, big = 10, cfg.growth_history
        backends = [
            b
            for b in ["sqlite"] + (["postgres"] if cfg.postgres else [])
            if not cfg.only or b in cfg.only or f"baton-{b}" in cfg.only
        ]
        print(
            f"\nGrowth: {cfg.growth_messages} sequential messages of a customer with {small} "
            f"vs {big} stored messages, {cfg.runs} runs, on {', '.join(backends)}"
        )
        g_runs: list[dict[str, Any]] = []
        for run_no in range(1, cfg.runs + 1):
            for backend in backends:
                # Every other round the big history goes first: drift hits both sizes alike.
                for history in (small, big) if run_no % 2 else (big, small):
                    if cfg.wait_quiet:
                        await wait_quiet(cfg.wait_quiet)
                    try:
                        g = await growth_run(
                            backend,
                            history,
                            messages=cfg.growth_messages,
                            workdir=cfg.workdir,
                            run_no=run_no,
                            postgres=cfg.postgres,
                            time_limit=cfg.time_limit,
                        )
                        print(
                            f"  {backend:<8} {history:>7} stored, run {run_no}: p50 "
                            f"{g['p50_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms, CPU "
                            f"{g['cpu_ms_per_msg']:.3f} ms/msg (seeded in "
                            f"{g['seed_seconds']:.1f}s)",
                            flush=True,
                        )
                    except BenchAborted as exc:
                        failed = True
                        g = {"backend": backend, "history": history, "run": run_no}
                        g["error"] = str(exc)
                        print(f"  {backend} {history} run {run_no}: ABORTED: {exc}")
                    g_runs.append(g)
        gs = growth_summary(g_runs, small, big)
        report["growth"] = {"runs": g_runs, "summary": gs}
        print()
        print(growth_text(gs, small, big))

    cfg.out.write_text(json.dumps(_clean(report), indent=2))
    print(f"\nResults written to {cfg.out}")
    if failed:
        print("Some runs were aborted; see above.", file=sys.stderr)
    return 1 if failed else 0


def _profile_head(path: Path, lines: int = 20) -> str:
    """The first `lines` functions of the profile's first flat (self time) listing."""
    try:
        text = path.read_text().splitlines()
    except OSError:
        return "  (no profile written)"
    start = next((i for i, line in enumerate(text) if line.startswith("Profile at")), -1)
    body = [line for line in text[start + 1 :] if line.strip()][:lines]
    return "\n".join("  " + line for line in body)


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """The command line as a `Config`."""
    p = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run",
        description="Baton vs a bare-aiohttp ceiling vs aiogram, through the Telegram emulator.",
    )
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="also run Baton on PostgreSQL, e.g. "
        "postgresql://postgres@127.0.0.1:5432/test (a fresh database per run)",
    )
    p.add_argument("--customers", type=int, default=1000, help="distinct Telegram users")
    p.add_argument("--messages", type=int, default=20_000, help="measured messages per run")
    p.add_argument("--inflight", type=int, default=64, help="customers waiting for a reply")
    p.add_argument("--runs", type=int, default=3, help="runs of each variant, interleaved")
    p.add_argument("--warmup", type=int, default=500, help="unmeasured messages before each run")
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds one run may take")
    p.add_argument("--out", type=Path, default=RESULTS / "results.json", help="JSON results")
    p.add_argument("--workdir", type=Path, default=RESULTS / "work", help="databases and logs")
    p.add_argument("--only", default="", help="comma-separated variants or kinds to run")
    p.add_argument("--growth", action="store_true", help="also run the growth check")
    p.add_argument("--growth-only", action="store_true", help="only the growth check")
    p.add_argument("--growth-messages", type=int, default=600, help="measured messages")
    p.add_argument("--growth-history", type=int, default=100_000, help="the big history")
    p.add_argument(
        "--profile",
        action="store_true",
        help="one extra Baton run under pyinstrument; writes profile-*.txt",
    )
    p.add_argument("--profile-only", action="store_true", help="only the profile runs")
    p.add_argument(
        "--profile-messages", type=int, default=5000, help="measured messages of a profile run"
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        metavar="S",
        help="before each run, wait up to S seconds for other processes to go quiet (0: no)",
    )
    p.add_argument(
        "--what-if",
        default="",
        metavar="NAMES",
        help="run Baton with runtime experiments (not Baton as shipped): " + ", ".join(WHAT_IF),
    )
    p.add_argument(
        "--send-processes",
        type=int,
        default=0,
        metavar="N",
        help="run Baton with BATON_SEND_PROCESSES=N: platform calls in N child processes "
        "(their CPU counts as the server's)",
    )
    p.add_argument(
        "--baselines-on-uvloop",
        action="store_true",
        help="also run the ceiling and aiogram on uvloop, the loop Baton runs on where it is "
        "installed (variants ceiling+uvloop, aiogram+uvloop)",
    )
    p.add_argument(
        "--compare-to",
        type=Path,
        action="append",
        default=[],
        metavar="TREE",
        help="also run Baton from another checkout, e.g. one made with `git worktree add "
        "../before <revision>` (variants baton-sqlite@before, ...): before and after a change "
        "in the same run; give it again for more checkouts",
    )
    a = p.parse_args(argv)
    for tree in a.compare_to:
        if not (tree / "tests" / "benchmarks" / "servers.py").is_file():
            p.error(f"--compare-to {tree}: not a checkout of Baton with this benchmark")
    names = [tree.resolve().name for tree in a.compare_to]
    if len(set(names)) != len(names):
        p.error("--compare-to: give the checkouts folders of different names")
    unknown = {x.strip() for x in a.what_if.split(",") if x.strip()} - set(WHAT_IF)
    if unknown:
        p.error(f"unknown --what-if {sorted(unknown)}; known: {', '.join(WHAT_IF)}")
    if a.customers < a.inflight:
        p.error("--customers must be at least --inflight")
    if not 0 <= a.send_processes <= 16:
        p.error("--send-processes must be 0-16")
    if min(a.messages, a.runs, a.inflight) < 1:
        p.error("--messages, --runs and --inflight must be positive")
    return Config(
        postgres=a.postgres,
        customers=a.customers,
        messages=a.messages,
        inflight=a.inflight,
        runs=a.runs,
        warmup=a.warmup,
        time_limit=a.time_limit,
        out=a.out.resolve(),
        workdir=a.workdir.resolve(),
        only=tuple(x.strip() for x in a.only.split(",") if x.strip()),
        throughput=not (a.growth_only or a.profile_only),
        growth=a.growth or a.growth_only,
        growth_messages=a.growth_messages,
        growth_history=a.growth_history,
        profile=a.profile or a.profile_only,
        profile_messages=a.profile_messages,
        wait_quiet=a.wait_quiet,
        what_if=tuple(x.strip() for x in a.what_if.split(",") if x.strip()),
        send_processes=a.send_processes,
        baselines_on_uvloop=a.baselines_on_uvloop,
        compare_to=tuple(tree.resolve() for tree in a.compare_to),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m tests.benchmarks.run`."""
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
