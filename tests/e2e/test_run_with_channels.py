"""`baton run` configured only by BATON_* variables, as a user deploys it, on all three
platforms (the emulators stand in for the platforms' APIs)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.emulators import SlackEmulator, TelegramEmulator, TwilioEmulator

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
TOKEN = "123456:TEST-token"
SECRET = "s3cret-token_x"
SLACK_SECRET = "slack-signing-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env["PYTHONPATH"] = os.getcwd()
    env.update(values)
    return env


async def test_baton_run_answers_on_telegram_sms_and_slack(tmp_path: Path) -> None:
    telegram, twilio, slack = TelegramEmulator(), TwilioEmulator(), SlackEmulator()
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    async with telegram.run() as tg_api, twilio.run() as tw_api, slack.run() as sl_api:
        env = _env(
            tmp_path,
            BATON_PUBLIC_URL=public,
            BATON_TELEGRAM_TOKEN=TOKEN,
            BATON_TELEGRAM_SECRET=SECRET,
            BATON_TELEGRAM_API_BASE=tg_api,
            BATON_TWILIO_ACCOUNT_SID=twilio.account_sid,
            BATON_TWILIO_AUTH_TOKEN=twilio.auth_token,
            BATON_TWILIO_FROM="+15005550006",
            BATON_TWILIO_API_BASE=tw_api,
            BATON_SLACK_BOT_TOKEN="xoxb-0000-test",
            BATON_SLACK_SIGNING_SECRET=SLACK_SECRET,
            BATON_SLACK_API_BASE=sl_api,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--port",
            str(port),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            # Baton registers its Telegram webhook, with the secret, when it starts.
            registered = await telegram.next_call("setWebhook", timeout=30)
            assert registered.params["url"] == f"{public}/webhooks/telegram"
            assert registered.params["secret_token"] == SECRET
            await _serving(public)

            await telegram.customer_text(
                f"{public}/webhooks/telegram", SECRET, user_id=42, text="hi"
            )
            sent = await telegram.next_call("sendMessage", timeout=10)
            assert sent.text == GREETING

            # Bad input, on the server as deployed (its event loop is uvloop): a forged
            # webhook is refused and answered nothing; a NUL byte and HTML in a new
            # customer's text still get the bot's answer.
            forged = await telegram.customer_text(
                f"{public}/webhooks/telegram", "not-the-secret", user_id=43, text="hi"
            )
            assert forged.status == 401
            await telegram.customer_text(
                f"{public}/webhooks/telegram", SECRET, user_id=44, text="h\x00i <b>x</b>"
            )
            odd = await telegram.next_call("sendMessage", timeout=10)
            assert odd.recipient == "44"  # nothing was sent to the forger, 43

            await twilio.customer_sms(
                f"{public}/webhooks/twilio/sms", from_="+31612345678", to="+15005550006", body="hi"
            )
            sms = await twilio.next_call("messages.create", timeout=10)
            assert sms.text is not None
            assert sms.text.startswith(GREETING + "\n\n1. Where is my order?")

            await slack.customer_message(
                f"{public}/webhooks/slack/events", SLACK_SECRET, user="U0456", text="hi"
            )
            posted = await slack.next_call("chat.postMessage", timeout=10)
            assert posted.text == GREETING
        finally:
            proc.terminate()
            out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "event loop: uvloop" in out.decode()


async def _serving(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("baton run did not start")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"BATON_TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, "BATON_TWILIO_AUTH_TOKEN"),
        ({"BATON_SLACK_BOT_TOKEN": "xoxb-1"}, "BATON_SLACK_SIGNING_SECRET"),
        ({"BATON_TELEGRAM_TOKEN": TOKEN}, "BATON_TELEGRAM_SECRET"),
        (
            {"BATON_TELEGRAM_TOKEN": TOKEN, "BATON_TELEGRAM_SECRET": "has spaces"},
            "BATON_TELEGRAM_SECRET",
        ),
        ({"BATON_DATABASE_URL": "mysql://x/y"}, "BATON_DATABASE_URL"),
        ({"BATON_EVENT_LOOP": "twisted"}, "BATON_EVENT_LOOP"),
    ],
)
async def test_a_half_configured_channel_stops_baton_naming_the_setting(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--port",
        str(_free_port()),
        env=_env(tmp_path, **values),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert named in err.decode()


async def test_a_rejected_telegram_token_stops_baton_with_a_clear_message(
    tmp_path: Path,
) -> None:
    telegram = TelegramEmulator(token="999:the-real-token")
    async with telegram.run() as api:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--port",
            str(_free_port()),
            env=_env(
                tmp_path,
                BATON_TELEGRAM_TOKEN=TOKEN,
                BATON_TELEGRAM_SECRET=SECRET,
                BATON_TELEGRAM_API_BASE=api,
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "rejected the bot token" in err.decode()
