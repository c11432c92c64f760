"""A campaign against the three emulated platforms, with `baton run` as a real process that can
be killed: customers written straight to the database, the emulators with the platforms' rate
limits, and the count of what each recipient received. Used by the campaign journeys
(tests/e2e/test_campaigns.py) and the campaign benchmark (tests/benchmarks/campaign.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Connection, insert, update

from adapters.emulators import SlackEmulator, TelegramEmulator, TwilioEmulator
from adapters.emulators.slack import dm_channel
from storage import Store, open_store
from storage.campaigns import CampaignStore
from storage.tables import metadata

__all__ = [
    "Platforms",
    "Rates",
    "baton_server",
    "count_received",
    "create_campaign",
    "seed_customers",
    "seed_into",
]

TOKEN = "123456:TEST-token"
SECRET = "s3cret-token_x"
SLACK_TOKEN = "xoxb-0000-test"
SLACK_SECRET = "slack-signing-secret"
SLACK_TEAM = "T0BENCH"
FROM = "+15005550006"
CHANNELS = ("telegram", "twilio", "slack")
_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Rates:
    """The platforms' limits, applied alike by the emulators and by Baton's throttles."""

    telegram: float = 30.0
    telegram_chat: float = 1.0
    twilio: float = 1.0
    slack_channel: float = 1.0

    def env(self) -> dict[str, str]:
        return {
            "BATON_TELEGRAM_RATE": str(self.telegram),
            "BATON_TELEGRAM_CHAT_RATE": str(self.telegram_chat),
            "BATON_TWILIO_RATE": str(self.twilio),
            "BATON_SLACK_CHANNEL_RATE": str(self.slack_channel),
        }


@dataclass
class Platforms:
    """The three emulators, serving, with the rate limits applied."""

    telegram: TelegramEmulator = field(default_factory=TelegramEmulator)
    twilio: TwilioEmulator = field(default_factory=TwilioEmulator)
    slack: SlackEmulator = field(default_factory=SlackEmulator)
    urls: dict[str, str] = field(default_factory=dict)

    def limit(self, rates: Rates) -> None:
        self.telegram.limit_rate(rates.telegram)
        self.telegram.limit_rate(rates.telegram_chat, per_recipient=True)
        self.twilio.limit_rate(rates.twilio, per_recipient=True)  # per sending number
        self.slack.limit_rate(rates.slack_channel, per_recipient=True)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[Platforms]:
        async with AsyncExitStack() as stack:
            for name in CHANNELS:
                self.urls[name] = await stack.enter_async_context(getattr(self, name).run())
            yield self

    async def until(self, done: Callable[[], bool], timeout: float = 120.0) -> None:
        """Wait until `done()` holds, looking again after each call any emulator answers."""
        async with asyncio.timeout(timeout):
            while not done():
                waits = [
                    asyncio.ensure_future(getattr(self, name).next_call(timeout=timeout))
                    for name in CHANNELS
                ]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for wait in waits:
                        wait.cancel()
                    await asyncio.gather(*waits, return_exceptions=True)

    def env(self, public_url: str) -> dict[str, str]:
        return {
            "BATON_PUBLIC_URL": public_url,
            "BATON_TELEGRAM_TOKEN": TOKEN,
            "BATON_TELEGRAM_SECRET": SECRET,
            "BATON_TELEGRAM_API_BASE": self.urls["telegram"],
            "BATON_TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "BATON_TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "BATON_TWILIO_FROM": FROM,
            "BATON_TWILIO_API_BASE": self.urls["twilio"],
            "BATON_SLACK_BOT_TOKEN": SLACK_TOKEN,
            "BATON_SLACK_SIGNING_SECRET": SLACK_SECRET,
            "BATON_SLACK_API_BASE": self.urls["slack"],
        }


def recipient(channel: str, i: int) -> tuple[str, str]:
    """(identity external id, the emulator's recipient key) of the i-th customer of a channel."""
    if channel == "telegram":
        return str(700_000_000 + i), str(700_000_000 + i)
    if channel == "twilio":
        number = f"+1555{i:07d}"
        return number, number
    user = f"U{i:08d}"
    return f"{SLACK_TEAM}:{user}", dm_channel(user)


async def seed_customers(url: str, counts: Mapping[str, int]) -> dict[str, list[str]]:
    """Write customers with one identity each (`counts` per channel) straight to the database;
    the emulators' recipient keys per channel."""
    store = await open_store(url)
    try:
        await store.check_schema()
        return await seed_into(store, counts)
    finally:
        await store.close()


async def seed_into(store: Store, counts: Mapping[str, int]) -> dict[str, list[str]]:
    """`seed_customers` through an open store (a running Baton's)."""
    tables = metadata.tables
    keys: dict[str, list[str]] = {c: [] for c in counts}

    def write(conn: Connection) -> None:
        now = time.time()
        for channel, n in counts.items():
            for i in range(n):
                external, key = recipient(channel, i)
                keys[channel].append(key)
                customer = conn.execute(
                    insert(tables["customers"]).returning(tables["customers"].c.id),
                    {"created_at": now, "last_seen_at": now, "memory": {}},
                ).scalar_one()
                conversation = conn.execute(
                    insert(tables["conversations"]).returning(tables["conversations"].c.id),
                    {
                        "customer_id": customer,
                        "status": "bot",
                        "status_at": now,
                        "created_at": now,
                    },
                ).scalar_one()
                identity = conn.execute(
                    insert(tables["identities"]).returning(tables["identities"].c.id),
                    {
                        "channel": channel,
                        "external_id": external,
                        "customer_id": customer,
                        "created_at": now,
                        "last_seen_at": now,
                    },
                ).scalar_one()
                conn.execute(
                    update(tables["customers"])
                    .where(tables["customers"].c.id == customer)
                    .values(conversation_id=conversation, last_identity_id=identity)
                )

    await store._runner.run(write)
    return keys


async def create_campaign(url: str, text: str, *, purpose: str = "service") -> tuple[int, int]:
    """Start a campaign to every customer, as `baton campaign create` does."""
    store = await open_store(url)
    try:
        found = await CampaignStore(store).create_campaign(
            name=text,
            purpose=purpose,
            prompt={"text": text},
            segment={},
            channels=[*CHANNELS, "web"],
            actor="test",
        )
    finally:
        await store.close()
    assert found[0] is not None
    return found[0], found[1]


async def campaign_progress(url: str, campaign_id: int) -> dict[str, Any]:
    store = await open_store(url)
    try:
        found = await CampaignStore(store).campaign(campaign_id)
    finally:
        await store.close()
    assert found is not None
    return found


async def campaign_finished(url: str, campaign_id: int, timeout: float = 300.0) -> dict[str, Any]:
    """Wait until another process finished the campaign: every recipient sent, skipped, failed
    or uncertain. (Another process: no event to await, so the database is read every 0.2 s.)"""
    for _ in range(int(timeout / 0.2)):
        found = await campaign_progress(url, campaign_id)
        if found["status"] != "running" and found["counts"]["queued"] == 0:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"campaign {campaign_id} did not finish within {timeout} s")


def count_received(platforms: Platforms, keys: Mapping[str, list[str]], text: str) -> Counter[str]:
    """How many times each recipient ("channel:key") received `text`."""
    received: Counter[str] = Counter()
    for channel, recipients in keys.items():
        emulator = getattr(platforms, channel)
        for key in recipients:
            received[f"{channel}:{key}"] = emulator.sent_to(key).count(text)
    return received


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def baton_server(
    tmp_path: Path, url: str, env: Mapping[str, str], *, log_name: str = "baton.log"
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`baton run` on a free port with `env`, serving when the block starts; killed at its end
    if still running. Its output goes to `tmp_path / log_name`."""
    port = int(env.get("BATON_PORT", 0)) or free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    full.update(BATON_DATABASE_URL=url, BATON_LOG_LEVEL="WARNING", PYTHONPATH=_ROOT)
    full.update(env)
    log = (tmp_path / log_name).open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--port",
        str(port),
        env=full,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(3600):  # until it serves (bounded: three minutes, on a busy machine)
                if proc.returncode is not None:
                    raise AssertionError(f"baton run exited with {proc.returncode}")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("baton run did not start")
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        log.close()
