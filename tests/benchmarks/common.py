"""What the benchmark's processes share: the dialog, credentials, CPU clocks and statistics."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TOKEN = "123456:BENCH-token"
"""The bot token every variant uses (the emulator accepts it)."""
SECRET = "bench_secret-0123456789"
"""The webhook secret every variant checks (X-Telegram-Bot-Api-Secret-Token)."""
WEBHOOK_PATH = "/webhooks/telegram"

ASK_NAME = "What's your name?"
ASK_ORDER = "What's your order number?"


def thanks(name: str, order: str) -> str:
    """The last reply of the dialog."""
    return f"Thanks {name}, order {order} noted."


@dataclass(frozen=True, slots=True)
class Turn:
    """One customer message and the reply it must get."""

    text: str
    expect: str


def dialog_turn(user_id: int, step: int, round_no: int) -> Turn:
    """Message `step` (0, 1, 2) of the `round_no`-th dialog of customer `user_id`."""
    name = f"Ada{user_id}"
    order = str(100_000 + round_no)
    if step == 0:
        return Turn("hi", ASK_NAME)
    if step == 1:
        return Turn(name, ASK_ORDER)
    return Turn(order, thanks(name, order))


_TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`, all its threads (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode()
    # The command name (field 2) may hold spaces; fields after its closing ")" are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of process `pid` and its descendants: the live ones from /proc, and the
    ones that exited and were reaped (the kernel adds those to the parent's cutime/cstime)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode()
    fields = raw[raw.rindex(")") + 2 :].split()
    total = sum(int(x) for x in fields[11:15]) / _TICKS  # utime, stime, cutime, cstime
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return total
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children = f.read().split()
        except OSError:
            continue
        for child in children:
            with contextlib.suppress(OSError, ValueError):  # it exited meanwhile
                total += tree_cpu_seconds(int(child))
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values."""
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def remove_sqlite(path: Path) -> None:
    """Delete a SQLite database file with its WAL, shared-memory and Baton lock files."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
