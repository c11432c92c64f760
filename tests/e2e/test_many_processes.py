"""Several engine processes on one PostgreSQL database keep each customer's line in order."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from adapters.base import Inbound
from dialogs import App, Context, Keyword, flow
from tests.support.baton import running_baton
from tests.support.channels import ScriptedChannel
from tests.support.databases import fresh_database

handled: list[tuple[str, int]] = []


async def work(who: str, n: int) -> int:
    # Earlier messages take longer: without one line per customer they would finish later.
    await asyncio.sleep(0.01 * (6 - n % 6))
    handled.append((who, n))
    return n


@flow(triggers=[Keyword("msg")])
async def record(ctx: Context) -> None:
    _, who, n = (ctx.trigger.text or "").split()
    await ctx.step("work", work, who, int(n))
    await ctx.say(f"done {who} {n}")


async def test_two_engines_share_customers_without_breaking_order(tmp_path: Path) -> None:
    handled.clear()
    async with fresh_database("postgresql", tmp_path) as url:
        one, two = ScriptedChannel(), ScriptedChannel()
        async with (
            running_baton(url, App(flows=[record]), adapters=[one]) as a,
            running_baton(url, App(flows=[record]), adapters=[two]) as b,
        ):
            engines = [a.engine, b.engine]
            # Two customers; each message is committed by one of the two processes in turn.
            for n in range(12):
                for who in ("ann", "bob"):
                    message = Inbound("scripted", uuid.uuid4().hex, who, text=f"msg {who} {n}")
                    await engines[(n + (who == "bob")) % 2].receive([message])
            # Both quiet at once means every committed row was handled (no sweeper needed):
            # a process that could not take a customer's lease leaves the row to the holder.
            for _ in range(100):
                await asyncio.wait_for(asyncio.gather(a.engine.idle(), b.engine.idle()), 30)
                if len(one.delivered) + len(two.delivered) >= 24:
                    break
            inbox_left = await a.store.pending_inbox()
    for who in ("ann", "bob"):
        assert [n for w, n in handled if w == who] == list(range(12))
    delivered = one.delivered + two.delivered
    assert sorted(text for _, text in delivered) == sorted(
        f"done {who} {n}" for who in ("ann", "bob") for n in range(12)
    )
    assert inbox_left == []


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    import os

    from tests.support.databases import POSTGRES_ENV, POSTGRES_SKIP

    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(POSTGRES_SKIP)
