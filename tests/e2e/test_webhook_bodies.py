"""Bodies no platform sends: deeply nested JSON, oversized bodies, wrong types, at every endpoint
that reads one (Telegram, Slack events and interactivity, the web chat). Each is refused with a
4xx through real HTTP, never a 500, and the next ordinary message is answered."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
import pytest

from adapters.base import Adapter
from adapters.emulators import SlackEmulator, TelegramEmulator, signed_headers
from adapters.slack import EVENTS_PATH, INTERACTIVE_PATH, SlackAdapter
from adapters.telegram import PATH as TELEGRAM_PATH
from adapters.telegram import TelegramAdapter
from bot.demo import app
from tests.support.baton import Running, running_baton

TOKEN = "123456:TEST-bodies"
SECRET = "bodies-secret"
SLACK_TOKEN = "xoxb-bodies"
SLACK_SECRET = "bodies-signing-secret"
GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
HUGE = json.dumps({"update_id": 1, "pad": "x" * (2 * 1024**2)})


@dataclass
class Platforms:
    telegram: TelegramEmulator
    slack: SlackEmulator
    baton: Running
    http: aiohttp.ClientSession

    async def post(self, path: str, body: str, headers: dict[str, str]) -> int:
        async with self.http.post(
            self.baton.url(path), data=io.BytesIO(body.encode()), headers=headers
        ) as r:
            await r.read()
            return r.status

    async def telegram_post(self, body: str) -> int:
        headers = {"Content-Type": JSON, "X-Telegram-Bot-Api-Secret-Token": SECRET}
        return await self.post(TELEGRAM_PATH, body, headers)

    async def slack_post(self, path: str, body: str, content_type: str) -> int:
        headers = signed_headers(SLACK_SECRET, body, content_type=content_type)
        return await self.post(path, body, headers)

    async def web_post(self, body: str, content_type: str = JSON) -> int:
        return await self.post("/chat/api/messages", body, {"Content-Type": content_type})


@asynccontextmanager
async def platforms(database_url: str) -> AsyncIterator[Platforms]:
    telegram = TelegramEmulator(TOKEN)
    slack = SlackEmulator(SLACK_TOKEN)
    async with telegram.run() as telegram_api, slack.run() as slack_api:
        adapters: list[Adapter] = [
            TelegramAdapter(TOKEN, secret=SECRET, api_base=telegram_api),
            SlackAdapter(SLACK_TOKEN, SLACK_SECRET, api_base=slack_api),
        ]
        async with (
            running_baton(database_url, app, adapters=adapters) as baton,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            async with http.get(baton.url("/chat")) as page:  # the web chat's session cookie
                assert page.status == 200
            yield Platforms(telegram, slack, baton, http)


async def test_telegram_refuses_deep_and_huge_bodies_then_answers(sqlite_url: str) -> None:
    async with platforms(sqlite_url) as p:
        assert await p.telegram_post(DEEP) == 400
        assert await p.telegram_post(DEEP_OBJECT) == 400
        deep_update = '{"update_id": 7, "message": ' + DEEP_OBJECT + "}"
        assert await p.telegram_post(deep_update) == 400
        assert await p.telegram_post(HUGE) == 413
        result = await p.telegram.customer_text(
            p.baton.url(TELEGRAM_PATH), SECRET, user_id=4242, text="hi"
        )
        assert result.status == 200
        call = await p.telegram.next_call("sendMessage")
        assert call.params["text"] == GREETING


async def test_slack_refuses_deep_and_huge_bodies_then_answers(sqlite_url: str) -> None:
    async with platforms(sqlite_url) as p:
        deep_event = '{"type": "event_callback", "event": ' + DEEP_OBJECT + "}"
        assert await p.slack_post(EVENTS_PATH, DEEP, JSON) == 400
        assert await p.slack_post(EVENTS_PATH, deep_event, JSON) == 400
        assert await p.slack_post(EVENTS_PATH, HUGE, JSON) == 413
        deep_payload = '{"type": "block_actions", "actions": ' + DEEP + "}"
        assert await p.slack_post(INTERACTIVE_PATH, "payload=" + quote(deep_payload), FORM) == 400
        assert await p.slack_post(INTERACTIVE_PATH, "payload=" + quote(DEEP_OBJECT), FORM) == 400
        assert await p.slack_post(INTERACTIVE_PATH, "payload=" + "x" * 2 * 1024**2, FORM) == 413
        result = await p.slack.customer_message(
            p.baton.url(EVENTS_PATH), SLACK_SECRET, user="U0CUST001", text="hi"
        )
        assert result.status == 200
        call = await p.slack.next_call("chat.postMessage")
        assert call.text == GREETING


async def test_web_chat_refuses_deep_huge_and_mistyped_bodies_then_answers(
    sqlite_url: str,
) -> None:
    async with platforms(sqlite_url) as p:
        assert await p.web_post(DEEP) == 400
        assert await p.web_post('{"text": "hi", "x": ' + DEEP_OBJECT + "}") == 400
        assert await p.web_post(json.dumps({"text": "x" * 2 * 1024**2})) == 413
        assert await p.web_post('{"text": "hi"}', "text/plain") == 415
        assert await p.web_post('{"text": "hi"}', "application/json; charset=latin-1") == 415
        assert await p.web_post('{"text": "hi"}') == 200
        async with p.http.get(p.baton.url("/chat/api/messages?wait=10")) as poll:
            replies = (await poll.json())["replies"]
        assert replies[0]["text"] == GREETING


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": "' + "[" * 500 + '"}', False),  # brackets inside a string do not nest
        ('["\\"' + "[" * 100 + '"]', False),  # nor after an escaped quote
        (("[" * 65 + "]" * 65).encode("utf-16"), True),
        ('{"a": 1}', False),
    ],
)
def test_json_depth_is_counted_outside_strings(body: str | bytes, deep: bool) -> None:
    from adapters.body import json_too_deep

    assert json_too_deep(body) is deep
