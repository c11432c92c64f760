"""Failed console logins are throttled per (email, address), through the real HTTP login: one
agent's mistakes (or an attacker's guesses) do not lock out the team behind the same address,
the answers never tell which emails are accounts, and X-Forwarded-For counts only from a
configured proxy."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.demo import app
from tests.console.support import PASSWORD, Browser, add_agent
from tests.support.baton import Running, running_baton


async def _login(
    baton: Running,
    email: str,
    password: str = PASSWORD,
    *,
    source: str = "127.0.0.1",
    forwarded_for: str | None = None,
) -> tuple[int, Any]:
    """POST /api/session from the loopback address `source`."""
    headers = {"Origin": baton.url("/").rstrip("/")}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(
            baton.url("/api/session"),
            json={"email": email, "password": password},
            headers=headers,
        ) as response,
    ):
        return response.status, await response.json()


async def test_failures_from_one_address_do_not_lock_out_another_agent(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        await add_agent(baton, "grace@example.com", "Grace")
        await add_agent(baton, "alan@example.com", "Alan")
        # 60 failed logins from one address (a shared office proxy): Grace's, and guesses.
        emails = ["grace@example.com"] + [f"guess{i}@example.com" for i in range(11)]
        failures = [(await _login(baton, e, "wrong"))[0] for e in emails for _ in range(5)]
        grace_here = await _login(baton, "grace@example.com")
        alan_here = await _login(baton, "alan@example.com")
        grace_elsewhere = await _login(baton, "grace@example.com", source="127.0.0.2")
    assert failures == [401] * 60
    assert grace_here[0] == 429  # her own attempts from here wait a while
    assert alan_here[0] == 200
    assert grace_elsewhere[0] == 200


async def test_unknown_wrong_and_throttled_answers_do_not_tell_accounts_apart(
    sqlite_url: str,
) -> None:
    async with running_baton(sqlite_url, app) as baton:
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        grace = await add_agent(baton, "grace@example.com", "Grace")
        async with Browser(baton) as boss:
            await boss.login("boss@example.com")
            off = await boss.request("PATCH", f"/api/agents/{grace.id}", {"active": False})
        await add_agent(baton, "alan@example.com", "Alan")
        wrong = await _login(baton, "alan@example.com", "wrong")
        unknown = await _login(baton, "nobody@example.com", "wrong")
        deactivated = await _login(baton, "grace@example.com")
        for email in ("alan@example.com", "nobody@example.com"):
            for _ in range(4):
                await _login(baton, email, "wrong")
        locked = await _login(baton, "alan@example.com")  # the right password
        locked_wrong = await _login(baton, "alan@example.com", "wrong")
        locked_unknown = await _login(baton, "nobody@example.com", "wrong")
    assert off[0] == 200
    assert wrong == unknown
    assert wrong[0] == 401
    assert deactivated == wrong  # the right password of a deactivated account
    assert locked == locked_wrong == locked_unknown
    assert locked[0] == 429


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        await add_agent(baton, "grace@example.com", "Grace")
        for _ in range(5):
            await _login(baton, "grace@example.com", "wrong", forwarded_for="203.0.113.1")
        # Not configured: the header is anyone's to write, so it changes nothing.
        spoofed = await _login(baton, "grace@example.com", forwarded_for="203.0.113.2")
    async with running_baton(sqlite_url, app, trusted_proxies="127.0.0.1") as baton:
        for _ in range(5):
            await _login(baton, "grace@example.com", "wrong", forwarded_for="203.0.113.1")
        same_client = await _login(baton, "grace@example.com", forwarded_for="203.0.113.1")
        other_client = await _login(
            baton, "grace@example.com", forwarded_for="198.51.100.7, 203.0.113.2"
        )
        # A proxy that is not trusted does not get its header believed either.
        untrusted = await _login(
            baton, "grace@example.com", source="127.0.0.2", forwarded_for="203.0.113.1"
        )
    assert spoofed[0] == 429
    assert same_client[0] == 429
    assert other_client[0] == 200
    assert untrusted[0] == 200
