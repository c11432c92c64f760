"""Stopping `baton run` (SIGTERM) in the middle of a burst sends no reply twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.emulators import TelegramEmulator
from adapters.emulators.telegram import update_payload
from tests.support.baton_process import baton_process, free_port

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
TOKEN = "123456:TEST-token"
SECRET = "s3cret-token_x"
CUSTOMERS = 200
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _held_sends(telegram: TelegramEmulator, gate: asyncio.Event) -> None:
    """Telegram accepts (and records) every sendMessage at once, but answers it only once
    `gate` is set: the replies are delivered, and Baton does not know it yet."""

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.match_info.get("method", "").lower() == "sendmessage":
            await gate.wait()
        return response

    telegram.app.middlewares.append(hold)


async def _deliver_all(
    telegram: TelegramEmulator, url: str, updates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """POST every update (5 at a time); the ones Baton did not answer 200."""
    failed: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=5)) as http:

        async def one(update: dict[str, Any]) -> None:
            try:
                result = await telegram.deliver(url, SECRET, update, session=http)
            except (aiohttp.ClientError, OSError, TimeoutError):
                failed.append(update)
            else:
                if result.status != 200:
                    failed.append(update)

        await asyncio.gather(*(one(u) for u in updates))
    return failed


@pytest.mark.parametrize("send_processes", ["0", "1"])
async def test_a_stop_in_a_burst_sends_no_reply_twice(tmp_path: Path, send_processes: str) -> None:
    telegram = TelegramEmulator()
    gate = asyncio.Event()
    _held_sends(telegram, gate)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    updates = [
        update_payload(telegram.next_update_id(), user_id=5000 + i, text="hi", message_id=1)
        for i in range(CUSTOMERS)
    ]
    async with telegram.run() as api:
        env = {
            "BATON_PUBLIC_URL": public,
            "BATON_TELEGRAM_TOKEN": TOKEN,
            "BATON_TELEGRAM_SECRET": SECRET,
            "BATON_TELEGRAM_API_BASE": api,
            "BATON_SEND_PROCESSES": send_processes,
            "BATON_STOP_GRACE_SECONDS": "60",
        }
        async with baton_process(tmp_path, port, env) as proc:
            burst = asyncio.create_task(
                _deliver_all(telegram, f"{public}/webhooks/telegram", updates)
            )
            for _ in range(1200):  # until 30 replies are held at Telegram (bounded)
                if len(telegram.calls("sendMessage")) >= 30 or burst.done():
                    break
                await asyncio.sleep(0.05)
            assert len(telegram.calls("sendMessage")) >= 30
            proc.send_signal(signal.SIGTERM)
            # Telegram answers the held sends a while later (the stop goes on meanwhile).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    await proc.wait()
            gate.set()
            async with asyncio.timeout(120):
                await proc.wait()
            redeliver = await burst

        async with baton_process(tmp_path, port, env):
            # Telegram redelivers what was not answered 200.
            assert await _deliver_all(telegram, f"{public}/webhooks/telegram", redeliver) == []
            async with aiohttp.ClientSession() as http:
                for _ in range(2400):  # until every customer is answered and all is sent
                    async with http.get(f"{public}/healthz") as r:
                        health = await r.json()
                    answered = sum(1 for i in range(CUSTOMERS) if telegram.sent_to(5000 + i))
                    if answered == CUSTOMERS and health["lanes"] == 0 and health["outbox"] == 0:
                        break
                    await asyncio.sleep(0.05)

    replies = {i: telegram.sent_to(5000 + i) for i in range(CUSTOMERS)}
    twice = {i: texts for i, texts in replies.items() if len(texts) > 1}
    assert twice == {}, f"{len(twice)} customers got their reply more than once"
    assert all(texts == [GREETING] for texts in replies.values())


async def test_a_send_unanswered_after_the_grace_does_not_hold_the_stop(tmp_path: Path) -> None:
    telegram = TelegramEmulator()
    gate = asyncio.Event()
    _held_sends(telegram, gate)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with telegram.run() as api:
        env = {
            "BATON_PUBLIC_URL": public,
            "BATON_TELEGRAM_TOKEN": TOKEN,
            "BATON_TELEGRAM_SECRET": SECRET,
            "BATON_TELEGRAM_API_BASE": api,
            "BATON_STOP_GRACE_SECONDS": "1",
        }
        async with baton_process(tmp_path, port, env) as proc:
            hi = await telegram.customer_text(
                f"{public}/webhooks/telegram", SECRET, user_id=77, text="hi"
            )
            assert hi.status == 200
            await telegram.next_call("sendMessage", timeout=30)  # accepted, never answered
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):  # it exits although Telegram never answers
                await proc.wait()
        gate.set()
        async with baton_process(tmp_path, port, env):
            # Unanswered, so not known to be sent: the next start sends it (again).
            await telegram.next_call("sendMessage", timeout=30)
    assert telegram.sent_to(77) == [GREETING, GREETING]
