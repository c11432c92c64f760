"""BATON_SEND_PROCESSES: replies leave through child processes, with the same outcomes as when
the server sends them itself (retry-after, unreachable, ids stored), and a killed child is
replaced. Real processes, real pipes, the real SDKs against the platform emulators."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.base import Address, Inbound, Prompt, Rendered, Sent
from adapters.emulators import TelegramEmulator
from adapters.errors import AdapterError, RateLimited, SendError, Unreachable
from adapters.telegram import PATH, TelegramAdapter
from bot.app import SEND_PROCESSES
from bot.demo import app
from bot.engine import send_process
from bot.engine.send_process import (
    RemoteSendError,
    SendProcesses,
    decode,
    encode,
    frame,
    read_frame,
    remote_adapters,
)
from bot.gc_tuning import THRESHOLDS
from bot.settings import SettingsError
from bot.testing import ChatScript, Running, chat_on, running_baton
from tests.e2e.test_run_with_channels import _env, _free_port, _serving
from tests.support.echo_channel import EchoChannel

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

TOKEN = "123456:TEST-token"
SECRET = "hook-secret_42"
USER = 4242
FAST = {"outbox_base_delay": 0.05, "outbox_max_delay": 0.2, "send_processes": 1}
GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
WAIT = 30.0
"""Seconds to wait for a reply: a child process imports the SDKs before its first send."""


@asynccontextmanager
async def echo_processes(
    count: int = 1, *, gc_freeze: bool = True, event_loop: str = "auto"
) -> AsyncIterator[SendProcesses]:
    chosen, pickled = remote_adapters([EchoChannel()])
    processes = SendProcesses(chosen, pickled, count, gc_freeze=gc_freeze, event_loop=event_loop)
    await processes.start()
    try:
        yield processes
    finally:
        await processes.close()


def text(words: str) -> Rendered:
    return EchoChannel().render(Prompt(words))


# --- the protocol ------------------------------------------------------------------------------


async def test_sends_and_their_errors_cross_the_pipe() -> None:
    async with echo_processes() as processes:
        sent = await processes.send("echo", Address("echo", "ada", "r1"), text("hi"))
        with pytest.raises(RateLimited) as limited:
            await processes.send("echo", Address("echo", "limited"), text("hi"))
        with pytest.raises(Unreachable) as blocked:
            await processes.send("echo", Address("echo", "blocked"), text("hi"))
        with pytest.raises(SendError) as permanent:
            await processes.send("echo", Address("echo", "permanent"), text("hi"))
        with pytest.raises(RemoteSendError, match="ValueError: boom"):
            await processes.send("echo", Address("echo", "boom"), text("hi"))
        with pytest.raises(SendError, match="no send process") as unknown:
            await processes.send("telegram", Address("telegram", "1"), text("hi"))
        # A send the outbox stops waiting for (its send timeout) is cancelled in the child,
        # which goes on with the next one.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await processes.send("echo", Address("echo", "slow"), text("hi"))
        again = await processes.send("echo", Address("echo", "ada"), text("again"))
        (pid,) = processes.pids
    assert pid is not None
    assert pid != os.getpid()
    assert sent.platform_ids == (f"{pid}:r1:hi",)
    assert again.platform_ids == (f"{pid}:None:again",)
    assert (limited.value.retry_after, limited.value.retryable) == (2.5, True)
    assert (blocked.value.code, blocked.value.retryable) == ("blocked", False)
    assert type(permanent.value) is SendError
    assert (permanent.value.retryable, permanent.value.code) == (False, "400")
    assert unknown.value.retryable is False


async def test_a_child_tunes_its_garbage_collector_as_the_server_does() -> None:
    async with echo_processes() as processes:
        tuned = await processes.send("echo", Address("echo", "gc"), text("?"))
    async with echo_processes(gc_freeze=False) as processes:
        untuned = await processes.send("echo", Address("echo", "gc"), text("?"))
    frozen, threshold = tuned.platform_ids[0].split()
    assert int(frozen.removeprefix("frozen=")) > 10_000  # the SDKs' objects, out of the way
    assert threshold == f"threshold={THRESHOLDS[0]}"
    assert untuned.platform_ids == ("frozen=0 threshold=700",)  # Python's defaults


async def test_a_child_runs_on_the_event_loop_the_server_was_told_to_use() -> None:
    async with echo_processes() as processes:
        default = await processes.send("echo", Address("echo", "loop"), text("?"))
    async with echo_processes(event_loop="asyncio") as processes:
        asked = await processes.send("echo", Address("echo", "loop"), text("?"))
    assert default.platform_ids[0].startswith("uvloop")  # BATON_EVENT_LOOP=auto
    assert asked.platform_ids[0].startswith("asyncio")


async def test_several_processes_share_the_sends() -> None:
    async with echo_processes(count=2) as processes:
        results = await asyncio.gather(
            *(
                processes.send("echo", Address("echo", f"customer-{i}"), text(str(i)))
                for i in range(40)
            )
        )
        pids = set(processes.pids)
    senders = {sent.platform_ids[0].partition(":")[0] for sent in results}
    assert len(pids) == 2
    assert senders == {str(pid) for pid in pids}


async def test_a_child_that_cannot_load_the_adapters_fails_start_clearly() -> None:
    processes = SendProcesses([EchoChannel()], b"not a pickle", 1)
    with pytest.raises(AdapterError, match="could not start"):
        await processes.start()


async def test_malformed_requests_are_refused_and_the_worker_goes_on() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.engine.send_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(encode({"path": sys.path}) + frame(pickle.dumps([EchoChannel()])))
    request = {"channel": "echo", "to": ["echo", "ada", None], "parts": list(text("ok").parts)}
    for junk in (
        frame(b"\xff\xfe not json"),
        frame(b"[1]"),
        encode({"no": "id"}),
        encode({"id": 1, "channel": "nope", "to": ["x", "y", None], "parts": []}),
        encode({"id": 2, "channel": "echo", "to": "ada", "parts": []}),
        encode({"id": 3, "cancel": True}),
    ):
        proc.stdin.write(junk)
    proc.stdin.write(encode({"id": 4, **request}))
    proc.stdin.close()
    answers = []
    while (body := await asyncio.wait_for(read_frame(proc.stdout), WAIT)) is not None:
        answers.append(decode(body))
    assert await proc.wait() == 0
    assert answers[0] == {"ready": ["echo"]}
    by_id = {a["id"]: a for a in answers[1:]}
    assert sorted(by_id) == [1, 2, 4]
    assert by_id[1]["error"]["type"] == "SendError"
    assert by_id[1]["error"]["retryable"] is False
    assert by_id[2]["error"]["type"] == "SendError"
    assert by_id[4]["ids"] == [f"{proc.pid}:None:ok"]


async def test_garbage_from_a_child_is_skipped_and_the_reply_still_delivered(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send_process, "WORKER_MODULE", "tests.support.garbled_send_worker")
    async with running_baton(sqlite_url, app, adapters=[EchoChannel()], **FAST) as baton:
        await baton.engine.receive([Inbound("echo", "m1", "ada", text="hi")])
        await asyncio.wait_for(baton.engine.idle(), WAIT)
        customer_id = await customer(baton, "echo", "ada")
        rows = await baton.store.outbox(customer_id)
        found = await baton.store.delivery_status("echo", "garbled-1", "delivered", None)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1)]
    assert found


# --- Telegram through a child ------------------------------------------------------------------


@asynccontextmanager
async def telegram(database_url: str) -> AsyncIterator[tuple[Running, TelegramEmulator]]:
    emu = TelegramEmulator(TOKEN)
    async with emu.run() as api:
        adapter = TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
        async with running_baton(database_url, app, adapters=[adapter], **FAST) as baton:

            async def not_here(to: Address, rendered: Rendered) -> Sent:
                raise AssertionError("sent from the server process")

            # The child has its own copy; the server's must not send.
            adapter.send = not_here  # type: ignore[method-assign]
            yield baton, emu


async def customer(baton: Running, channel: str, identity: str) -> int:
    found = await baton.store.identity(channel, identity)
    assert found is not None
    return found[1]


async def say(baton: Running, emu: TelegramEmulator, words: str, user_id: int = USER) -> None:
    result = await emu.customer_text(baton.url(PATH), SECRET, user_id=user_id, text=words)
    assert result.status == 200


async def test_a_reply_leaves_through_the_child_and_its_id_is_stored(database_url: str) -> None:
    async with telegram(database_url) as (baton, emu):
        (pid,) = baton.app[SEND_PROCESSES].pids
        await say(baton, emu, "hi")
        call = await emu.next_call("sendMessage", timeout=WAIT)
        await asyncio.wait_for(baton.engine.idle(), WAIT)
        customer_id = await customer(baton, "telegram", str(USER))
        rows = await baton.store.outbox(customer_id)
        before = [m.delivery_status for m in await baton.store.messages(customer_id)]
        message_id = str(call.response["result"]["message_id"])
        found = await baton.store.delivery_status("telegram", message_id, "delivered", None)
    assert (call.status, call.text) == (200, GREETING)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1)]
    assert before == ["received", "sent"]
    assert found  # the stored reply carries the platform's message id
    # The child exited with the server.
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_429_in_the_child_is_retried_after_retry_after(sqlite_url: str) -> None:
    async with telegram(sqlite_url) as (baton, emu):
        emu.fail_next(1, status=429, retry_after=1, method="sendMessage")
        await say(baton, emu, "hi")
        limited = await emu.next_call("sendMessage", timeout=WAIT)
        delivered = await emu.next_call("sendMessage", timeout=WAIT)
        await asyncio.wait_for(baton.engine.idle(), WAIT)
        rows = await baton.store.outbox(await customer(baton, "telegram", str(USER)))
    assert limited.status == 429
    assert (delivered.status, delivered.text) == (200, GREETING)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)]


async def test_a_blocked_user_is_marked_unreachable_through_the_child(sqlite_url: str) -> None:
    async with telegram(sqlite_url) as (baton, emu):
        emu.block(USER)
        await say(baton, emu, "hi")
        refused = await emu.next_call("sendMessage", timeout=WAIT)
        await asyncio.wait_for(baton.engine.idle(), WAIT)
        found = await baton.store.identity("telegram", str(USER))
        assert found is not None
        flags = await baton.store.identity_flags(found[0])
        rows = await baton.store.outbox(found[1])
    assert refused.status == 403
    assert flags["unreachable"] is True
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1)]


async def test_a_killed_child_is_replaced_and_the_next_reply_delivered(sqlite_url: str) -> None:
    async with telegram(sqlite_url) as (baton, emu):
        processes = baton.app[SEND_PROCESSES]
        await say(baton, emu, "hi")
        first = await emu.next_call("sendMessage", timeout=WAIT)
        await asyncio.wait_for(baton.engine.idle(), WAIT)  # its answer is read back
        (killed,) = processes.pids
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await say(baton, emu, "hi", user_id=USER + 1)
        second = await emu.next_call("sendMessage", timeout=WAIT)
        await asyncio.wait_for(baton.engine.idle(), WAIT)
        rows = await baton.store.outbox(await customer(baton, "telegram", str(USER + 1)))
        (replacement,) = processes.pids
    assert (first.text, second.text) == (GREETING, GREETING)
    assert second.recipient == str(USER + 1)
    assert [r["status"] for r in rows] == ["sent"]
    assert replacement not in (None, killed)


# --- SMS and Slack through a child -------------------------------------------------------------


@pytest.mark.parametrize("channel", ["twilio", "slack"])
async def test_sms_and_slack_replies_leave_through_the_child(
    sqlite_url: str, channel: str
) -> None:
    async with chat_on(channel, app, database_url=sqlite_url, send_processes=1) as chat:
        await chat.send("hi")
        await chat.expect(GREETING, timeout=WAIT)
        await chat.send("1")
        await chat.expect("What's your name?", timeout=WAIT)
        pids = chat_pids(chat)
    assert pids
    assert None not in pids


def chat_pids(chat: ChatScript) -> list[int | None]:
    return chat.baton.app[SEND_PROCESSES].pids


# --- `baton run` ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")  # exited, not yet reaped


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
async def test_baton_run_with_a_send_process_and_its_exit_when_the_server_dies(
    tmp_path: Path,
) -> None:
    emu = TelegramEmulator(TOKEN)
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    async with emu.run() as api:
        env = _env(
            tmp_path,
            BATON_PUBLIC_URL=public,
            BATON_TELEGRAM_TOKEN=TOKEN,
            BATON_TELEGRAM_SECRET=SECRET,
            BATON_TELEGRAM_API_BASE=api,
            BATON_SEND_PROCESSES="1",
        )
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--port", str(port), env=env
        )
        try:
            await emu.next_call("setWebhook", timeout=60)
            await _serving(public)
            await emu.customer_text(f"{public}/webhooks/telegram", SECRET, user_id=42, text="hi")
            sent = await emu.next_call("sendMessage", timeout=WAIT)
            children = _children(server.pid)
        finally:
            server.kill()
            await server.wait()
        # Its stdin ends with the server: the child exits on its own.
        for _ in range(600):
            if all(_gone(pid) for pid in children):
                break
            await asyncio.sleep(0.05)
    assert sent.text == GREETING
    assert len(children) == 1
    assert all(_gone(pid) for pid in children)


async def test_send_processes_on_a_missing_uvloop_are_refused_before_they_start(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    with pytest.raises(SettingsError, match="BATON_EVENT_LOOP=uvloop"):
        async with chat_on(
            "telegram", app, database_url=sqlite_url, event_loop="uvloop", send_processes=1
        ):
            pass
