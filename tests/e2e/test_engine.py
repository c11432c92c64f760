"""The engine's promises, on SQLite and PostgreSQL: order, dedupe, retries, recovery."""

from __future__ import annotations

import asyncio
import uuid

from adapters.base import Inbound
from dialogs import App, Context, Keyword, flow
from tests.support.baton import running_baton
from tests.support.channels import ScriptedChannel

FAST = {"outbox_base_delay": 0.01, "outbox_max_delay": 0.05}


def message(text: str, identity: str = "c1", message_id: str | None = None) -> Inbound:
    return Inbound("scripted", message_id or uuid.uuid4().hex, identity, text=text)


@flow(triggers=[Keyword("echo")])
async def echo(ctx: Context) -> None:
    await ctx.say(f"echo: {ctx.trigger.text}")


echo_app = App(flows=[echo])


async def test_burst_from_one_customer_is_handled_in_arrival_order(database_url: str) -> None:
    handled: list[int] = []

    async def slow(n: int) -> int:
        # Earlier messages take longer: without per-customer ordering they would finish last.
        await asyncio.sleep(0.02 * (10 - n))
        handled.append(n)
        return n

    @flow(triggers=[Keyword("msg")])
    async def record(ctx: Context) -> None:
        n = int((ctx.trigger.text or "").split()[1])
        await ctx.step("work", slow, n)
        await ctx.say(f"done {n}")

    channel = ScriptedChannel()
    async with running_baton(database_url, App(flows=[record]), adapters=[channel]) as baton:
        # Commit order is arrival order; all ten are in flight at once.
        for n in range(10):
            await baton.engine.receive([message(f"msg {n}")])
        delivered = await channel.wait_delivered(10)
    assert handled == list(range(10))
    assert [text for _, text in delivered] == [f"done {n}" for n in range(10)]


async def test_different_customers_run_concurrently(database_url: str) -> None:
    b_done = asyncio.Event()

    async def wait_for_b() -> str:
        # A's turn can only finish if B's turn runs while A's is still going.
        await asyncio.wait_for(b_done.wait(), 10)
        return "ok"

    async def mark_b() -> str:
        b_done.set()
        return "ok"

    @flow(triggers=[Keyword("a")])
    async def flow_a(ctx: Context) -> None:
        await ctx.step("wait", wait_for_b)
        await ctx.say("a finished")

    @flow(triggers=[Keyword("b")])
    async def flow_b(ctx: Context) -> None:
        await ctx.step("mark", mark_b)
        await ctx.say("b finished")

    channel = ScriptedChannel()
    async with running_baton(
        database_url, App(flows=[flow_a, flow_b]), adapters=[channel]
    ) as baton:
        await baton.engine.receive([message("a", identity="alice")])
        await baton.engine.receive([message("b", identity="bob")])
        delivered = await channel.wait_delivered(2)
    assert sorted(delivered) == [("alice", "a finished"), ("bob", "b finished")]


async def test_a_repeated_platform_message_id_is_handled_once(database_url: str) -> None:
    channel = ScriptedChannel()
    async with running_baton(database_url, echo_app, adapters=[channel]) as baton:
        first = await asyncio.gather(
            *[baton.engine.receive([message("echo once", message_id="dup-1")]) for _ in range(5)]
        )
        await channel.wait_delivered(1)
        again = await baton.engine.receive([message("echo once", message_id="dup-1")])
        await baton.engine.receive([message("echo later", message_id="dup-2")])
        delivered = await channel.wait_delivered(2)
        assert await baton.store.count("inbox") == 2
    assert sorted(r[0] for r in first) == [False, False, False, False, True]
    assert again == [False]
    assert [text for _, text in delivered] == ["echo: echo once", "echo: echo later"]


async def test_outbox_retries_transient_errors_and_honours_retry_after(database_url: str) -> None:
    channel = ScriptedChannel().then("500", 0.05, "ok")
    async with running_baton(database_url, echo_app, adapters=[channel], **FAST) as baton:
        await baton.engine.receive([message("echo retry")])
        delivered = await channel.wait_delivered(1)
        identity = await baton.store.identity("scripted", "c1")
        assert identity is not None
        await _settled(baton)
        rows = await baton.store.outbox(identity[1])
    assert delivered == [("c1", "echo: echo retry")]
    assert channel.attempts == ["echo: echo retry"] * 3
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 3)]


async def test_a_send_that_never_answers_is_abandoned_and_retried(database_url: str) -> None:
    channel = ScriptedChannel().then("hang", "ok")
    async with running_baton(database_url, echo_app, adapters=[channel], **FAST) as baton:
        baton.engine.outbox.send_timeout = 0.2
        await baton.engine.receive([message("echo slow platform")])
        delivered = await channel.wait_delivered(1)
        await _settled(baton)
        identity = await baton.store.identity("scripted", "c1")
        assert identity is not None
        rows = await baton.store.outbox(identity[1])
    assert delivered == [("c1", "echo: echo slow platform")]
    assert channel.attempts == ["echo: echo slow platform"] * 2
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)]


async def test_a_permanent_failure_is_recorded_and_not_retried(database_url: str) -> None:
    channel = ScriptedChannel().then("permanent")
    async with running_baton(database_url, echo_app, adapters=[channel], **FAST) as baton:
        await baton.engine.receive([message("echo fails")])
        await channel.wait_attempts(1)
        await baton.engine.receive([message("echo next")])
        await channel.wait_delivered(1)
        await _settled(baton)
        identity = await baton.store.identity("scripted", "c1")
        assert identity is not None
        rows = await baton.store.outbox(identity[1])
        messages = await baton.store.messages(identity[1])
    assert channel.attempts == ["echo: echo fails", "echo: echo next"]
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1), ("sent", 1)]
    assert "too long" in rows[0]["last_error"]
    assert [m.delivery_status for m in messages if m.direction == "out"] == ["failed", "sent"]


async def test_retries_stop_after_the_attempt_limit(database_url: str) -> None:
    channel = ScriptedChannel().then("500", "500", "500")
    async with running_baton(
        database_url, echo_app, adapters=[channel], outbox_max_attempts=3, **FAST
    ) as baton:
        await baton.engine.receive([message("echo never")])
        await channel.wait_attempts(3)
        await _settled(baton)
        identity = await baton.store.identity("scripted", "c1")
        assert identity is not None
        rows = await baton.store.outbox(identity[1])
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 3)]
    assert channel.delivered == []


async def test_a_blocked_customer_gets_nothing_more(database_url: str) -> None:
    channel = ScriptedChannel().then("blocked")
    async with running_baton(database_url, echo_app, adapters=[channel], **FAST) as baton:
        await baton.engine.receive([message("echo one")])
        await channel.wait_attempts(1)
        await _settled(baton)
        await baton.engine.receive([message("echo two")])
        await baton.engine.receive([message("echo from someone else", identity="c2")])
        await channel.wait_delivered(1)
        await _settled(baton)
        identity = await baton.store.identity("scripted", "c1")
        assert identity is not None
        flags = await baton.store.identity_flags(identity[0])
        messages = await baton.store.messages(identity[1])
    assert flags["unreachable"] is True
    assert channel.attempts == ["echo: echo one", "echo: echo from someone else"]
    assert [m.delivery_status for m in messages if m.direction == "out"] == ["failed", "not sent"]


async def test_unsent_replies_and_unhandled_messages_survive_a_restart(database_url: str) -> None:
    hanging = ScriptedChannel().then("hang")
    async with running_baton(database_url, echo_app, adapters=[hanging], **FAST) as baton:
        await baton.engine.receive([message("echo before restart")])
        await hanging.wait_attempts(1)
        # A message committed to the inbox by a process that died before handling it:
        from storage import NewInbound

        late = message("echo committed, never handled", identity="c2")
        await baton.store.accept([NewInbound("scripted", late.message_id, "c2", late.to_json())])
    # Stopped with one reply in flight and one inbox row unprocessed.
    channel = ScriptedChannel()
    async with running_baton(database_url, echo_app, adapters=[channel], **FAST) as baton:
        delivered = await channel.wait_delivered(2)
        await _settled(baton)
    assert sorted(delivered) == [
        ("c1", "echo: echo before restart"),
        ("c2", "echo: echo committed, never handled"),
    ]
    assert channel.attempts.count("echo: echo before restart") == 1


async def _settled(baton: object) -> None:
    from tests.support.baton import Running

    assert isinstance(baton, Running)
    await asyncio.wait_for(baton.engine.idle(), 10)
