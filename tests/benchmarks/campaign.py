"""Campaign benchmark: one message to many customers across the three emulated channels, sent
by `baton run` as a real process, killed with SIGKILL half-way and started again.

    python -m tests.benchmarks.campaign --customers 10000 [--telegram-rate 30]
        [--twilio-rate 30] [--slack-channel-rate 1] [--kill-at 0.5] [--send-processes 0]

The emulators (in this process) answer like the platforms, with their rate limits: beyond
them a send gets a 429 and a Retry-After. Baton's throttles are set to the same limits. The
customers are split evenly over Telegram, SMS and Slack (one identity each), written straight
to a fresh SQLite database; the campaign is created before Baton starts, as `baton campaign
create` does, so the first process picks it up at once.

Printed: per channel and per run (before and after the kill), the sends per second between
the first and the last successful send, against the channel's limit (target: at least 90%
where the limit binds: Telegram's 30/s overall, Twilio's per sending number); 429s answered;
then the customers messaged twice (target 0), those never messaged, and those recorded
"uncertain" (their send was in flight at the kill: not sent again, so nobody gets it twice).

It is a benchmark, not a test: nothing asserts a time; the exit code is 1 only when the run
could not finish (or someone got the message twice).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from adapters.emulators import Call
from tests.support.campaign import (
    CHANNELS,
    Platforms,
    Rates,
    baton_server,
    campaign_finished,
    count_received,
    create_campaign,
    free_port,
    seed_customers,
)

TEXT = "Spring sale: 20% off until Sunday."
_SEND = {"telegram": "sendMessage", "twilio": "messages.create", "slack": "chat.postMessage"}


def _rate(calls: Sequence[Call]) -> tuple[int, float]:
    ok = [c.time for c in calls if c.ok]
    if len(ok) < 2:
        return len(ok), 0.0
    return len(ok), (len(ok) - 1) / max(1e-9, ok[-1] - ok[0])


def _limit(channel: str, rates: Rates) -> tuple[float | None, str]:
    if channel == "telegram":
        return rates.telegram, f"{rates.telegram:g}/s overall (1 message per chat)"
    if channel == "twilio":
        return rates.twilio, f"{rates.twilio:g}/s per sending number (one number)"
    return None, f"{rates.slack_channel:g}/s per channel (one channel per customer: no bind)"


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="baton-campaign-bench-"))
    url = f"sqlite+aiosqlite:///{tmp / 'campaign.db'}"
    rates = Rates(
        telegram=args.telegram_rate,
        telegram_chat=args.telegram_chat_rate,
        twilio=args.twilio_rate,
        slack_channel=args.slack_channel_rate,
    )
    per = args.customers // len(CHANNELS)
    counts = {
        c: per + (1 if i < args.customers % len(CHANNELS) else 0) for i, c in enumerate(CHANNELS)
    }
    started = time.perf_counter()
    keys = await seed_customers(url, counts)
    campaign_id, total = await create_campaign(url, TEXT)
    print(
        f"{total} customers ({', '.join(f'{c} {n}' for c, n in counts.items())}) written in "
        f"{time.perf_counter() - started:.1f} s; campaign {campaign_id} created; files in {tmp}"
    )
    platforms = Platforms()
    platforms.limit(rates)
    phases: list[dict[str, list[Call]]] = []
    seen = dict.fromkeys(CHANNELS, 0)

    def take_phase() -> None:
        phase = {}
        for c in CHANNELS:
            calls = getattr(platforms, c).calls(_SEND[c])
            phase[c] = calls[seen[c] :]
            seen[c] = len(calls)
        phases.append(phase)

    def received() -> int:
        return sum(1 for v in count_received(platforms, keys, TEXT).values() if v)

    async with platforms.run():
        port = free_port()
        env = platforms.env(f"http://127.0.0.1:{port}") | rates.env() | {"BATON_PORT": str(port)}
        env["BATON_SEND_PROCESSES"] = str(args.send_processes)
        kill_at = int(total * args.kill_at)
        async with baton_server(tmp, url, env, log_name="first.log") as first:
            t0 = time.perf_counter()
            await platforms.until(lambda: received() >= kill_at, timeout=args.timeout)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            first_run = time.perf_counter() - t0
        at_kill = received()
        take_phase()
        print(f"SIGKILL after {first_run:.1f} s with {at_kill} customers messaged")
        async with baton_server(tmp, url, env, log_name="second.log") as second:
            t1 = time.perf_counter()
            progress = await campaign_finished(url, campaign_id, timeout=args.timeout)
            second_run = time.perf_counter() - t1
            second.send_signal(signal.SIGTERM)
            await second.wait()
        take_phase()
    got = count_received(platforms, keys, TEXT)
    twice = sum(1 for v in got.values() if v > 1)
    never = sum(1 for v in got.values() if v == 0)
    c = progress["counts"]
    print(f"restarted; finished {second_run:.1f} s later\n")
    print(
        f"{'channel':<9} {'run':<7} {'sends':>6} {'sends/s':>8} {'limit':>7} {'of limit':>9} "
        f"{'429s':>5}  limit"
    )
    for name in CHANNELS:
        limit, words = _limit(name, rates)
        for label, phase in zip(("first", "second"), phases, strict=True):
            n, per_s = _rate(phase[name])
            refused = sum(1 for x in phase[name] if x.status == 429)
            share = f"{100 * per_s / limit:.0f}%" if limit else "-"
            verdict = ""
            if limit and n > 2 * limit:
                verdict = "  PASS" if per_s >= 0.9 * limit else "  FAIL (<90%)"
            print(
                f"{name:<9} {label:<7} {n:>6} {per_s:>8.1f} {limit or 0:>7g} {share:>9} "
                f"{refused:>5}  {words}{verdict}"
            )
    print()
    print(f"customers messaged twice: {twice} (target 0) {'PASS' if twice == 0 else 'FAIL'}")
    print(f"customers messaged once: {sum(1 for v in got.values() if v == 1)} of {total}")
    print(f"never messaged: {never}; recorded uncertain (in flight at the kill): {c['uncertain']}")
    print(f"campaign record: {c}")
    return 0 if twice == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--telegram-rate", type=float, default=30.0)
    parser.add_argument("--telegram-chat-rate", type=float, default=1.0)
    parser.add_argument("--twilio-rate", type=float, default=30.0)
    parser.add_argument("--slack-channel-rate", type=float, default=1.0)
    parser.add_argument("--kill-at", type=float, default=0.5)
    parser.add_argument(
        "--send-processes", type=int, default=0, help="BATON_SEND_PROCESSES of the server"
    )
    parser.add_argument("--timeout", type=float, default=1800.0)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
