"""Clients that send a request slowly are cut off at the read deadline, and cannot keep
`baton run` from answering the platforms meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from adapters.emulators import SlackEmulator, TelegramEmulator
from tests.support.baton_process import baton_process, free_port

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
TOKEN = "123456:TEST-token"
SECRET = "s3cret-token_x"
STEPS = 20
"""Bytes a slow client sends, one every 2 s, before it gives up waiting to be cut off."""


async def _trickle(port: int, head: bytes, rest: bytes) -> tuple[bool, bytes]:
    """Send `head`, then `rest` a byte every 2 s (at most STEPS bytes); whether the server
    closed the connection first, and what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        writer.write(head)
        await writer.drain()
        for i in range(STEPS):
            try:
                async with asyncio.timeout(2):
                    chunk = await reader.read(65536)
            except TimeoutError:
                writer.write(rest[i : i + 1])
                await writer.drain()
                continue
            if not chunk:
                return True, answer
            answer += chunk
        return False, answer
    except ConnectionError:
        return True, answer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def test_slow_clients_are_cut_off_while_webhooks_are_answered(tmp_path: Path) -> None:
    telegram, slack = TelegramEmulator(), SlackEmulator()
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with telegram.run() as tg_api, slack.run() as sl_api:
        env = {
            "BATON_PUBLIC_URL": public,
            "BATON_TELEGRAM_TOKEN": TOKEN,
            "BATON_TELEGRAM_SECRET": SECRET,
            "BATON_TELEGRAM_API_BASE": tg_api,
            "BATON_SLACK_BOT_TOKEN": "xoxb-0000-test",
            "BATON_SLACK_SIGNING_SECRET": "slack-signing-secret",
            "BATON_SLACK_API_BASE": sl_api,
            "BATON_READ_TIMEOUT_SECONDS": "3",
        }
        async with baton_process(tmp_path, port, env):
            body = b'{"type": "event_callback", "event": {"type": "message"}}'.ljust(STEPS + 10)
            slow_body = (
                b"POST /webhooks/slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            slow_head = (
                b"POST /webhooks/telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 100
            )
            bodies = [
                asyncio.create_task(_trickle(port, slow_body + body[:1], body[1:]))
                for _ in range(150)
            ]
            heads = [
                asyncio.create_task(_trickle(port, slow_head[:20], slow_head[20:]))
                for _ in range(20)
            ]
            await asyncio.sleep(1)  # the slow clients are connected and trickling

            # Telegram's webhooks are answered meanwhile, and so are the customers.
            for user in range(10):
                result = await telegram.customer_text(
                    f"{public}/webhooks/telegram", SECRET, user_id=700 + user, text="hi"
                )
                assert result.status == 200, result.body
            for user in range(10):
                for _ in range(400):  # bounded
                    if telegram.sent_to(700 + user):
                        break
                    await asyncio.sleep(0.05)
                assert telegram.sent_to(700 + user) == [GREETING]

            slow_bodies = await asyncio.gather(*bodies)
            slow_heads = await asyncio.gather(*heads)

    assert all(closed for closed, _ in slow_bodies), "a slow body was never cut off"
    assert all(closed for closed, _ in slow_heads), "slow headers were never cut off"
    statuses = {answer.split(b" ", 2)[1] for _, answer in slow_bodies}
    assert statuses <= {b"408", b"503"}, statuses
    assert b"408" in statuses
