"""A lone surrogate in a customer's text (a JSON body may hold "\\ud800") is answered with 200
and stored, with U+FFFD in its place, through the real webhooks (Telegram, Slack, the web chat)
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp

from adapters.emulators import event_payload, signed_headers
from bot.demo import app
from bot.testing import running_baton
from tests.e2e import test_slack as slack
from tests.e2e.test_telegram import SECRET, USER, settled, telegram_baton

# Raw JSON: json.loads turns the escape into a lone surrogate in the text.
ODD_JSON = '"before \\ud800 after"'
STORED = "before \ufffd after"


async def test_a_telegram_update_with_a_lone_surrogate_is_answered_and_stored(
    database_url: str,
) -> None:
    user = USER + 7
    body = (
        '{"update_id": 91, "message": {"message_id": 5, "date": 1700000000, '
        f'"chat": {{"id": {user}, "type": "private"}}, '
        f'"from": {{"id": {user}, "is_bot": false, "first_name": "Od\\udc00d"}}, '
        f'"text": {ODD_JSON}}}}}'
    )
    async with telegram_baton(database_url) as tg:
        result = await tg.post(body, secret=SECRET)
        await settled(tg.baton)
        _, customer_id = await tg.customer(user)
        messages = await tg.baton.store.messages(customer_id)
    assert result.status == 200
    assert [m.text for m in messages if m.direction == "in"] == [STORED]
    assert [m.direction for m in messages].count("out") >= 1


async def test_a_web_chat_message_with_a_lone_surrogate_is_answered_and_stored(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(baton.url("/chat")) as page:
                assert page.status == 200
            async with http.post(
                baton.url("/chat/api/messages"),
                data=f'{{"text": {ODD_JSON}}}',
                headers={"Content-Type": "application/json"},
            ) as posted:
                status = posted.status
            async with http.get(
                baton.url("/chat/api/messages"), params={"after": "0", "wait": "10"}
            ) as polled:
                replies = (await polled.json())["replies"]
            identity = next(iter(jar)).value
        await asyncio.wait_for(baton.engine.idle(), 10)
        found = await baton.store.identity("web", identity)
        assert found is not None
        messages = await baton.store.messages(found[1])
    assert status == 200
    assert replies
    assert [m.text for m in messages if m.direction == "in"] == [STORED]


async def test_a_slack_message_with_a_lone_surrogate_is_answered_and_stored(
    database_url: str,
) -> None:
    payload = event_payload(
        team=slack.TEAM, user=slack.USER, text="before \ud800 after", ts="1700000000.000100"
    )
    body = json.dumps(payload)  # ASCII: the surrogate goes as the escape "\ud800"
    assert "\\ud800" in body
    headers = signed_headers(slack.SECRET, body, content_type=slack.JSON)
    async with slack.slack_baton(database_url) as chat, aiohttp.ClientSession() as http:
        async with http.post(chat.events, data=io.BytesIO(body.encode()), headers=headers) as r:
            status = r.status
        reply = await chat.reply()
        await asyncio.wait_for(chat.baton.engine.idle(), 10)
        messages = await chat.baton.store.messages(await chat.customer())
    assert status == 200
    assert reply.text
    assert [m.text for m in messages if m.direction == "in"] == [STORED]
