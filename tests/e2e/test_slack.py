"""The Slack channel end to end: real HTTP, real slack-bolt and slack-sdk against the Slack
emulator, the real Baton (storage, engine, outbox) running the demo bot."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from adapters.base import Address, Prompt
from adapters.emulators import (
    Call,
    SlackEmulator,
    WebhookResult,
    block_actions_payload,
    event_payload,
    post_webhook,
    signed_headers,
)
from adapters.errors import AdapterError
from adapters.slack import SlackAdapter
from bot.demo import app
from tests.support.baton import Running, running_baton

TOKEN = "xoxb-emulator-token"
SECRET = "emulator-signing-secret"
TEAM = "T0EMU0001"
USER = "U0CUST001"
DM = "D0CUST001"
GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Slack:
    """The emulator (Slack and the customer) and the Baton under test."""

    emu: SlackEmulator
    baton: Running

    @property
    def events(self) -> str:
        return self.baton.url("/webhooks/slack/events")

    @property
    def interactive(self) -> str:
        return self.baton.url("/webhooks/slack/interactive")

    async def say(self, text: str, *, user: str = USER) -> WebhookResult:
        return await self.emu.customer_message(self.events, SECRET, user=user, text=text)

    async def post(
        self,
        payload: Mapping[str, Any],
        *,
        retry_num: int | None = None,
    ) -> WebhookResult:
        return await self.emu.post_event(self.events, SECRET, payload, retry_num=retry_num)

    async def reply(self, timeout: float = 10.0) -> Call:
        call = await self.emu.next_call("chat.postMessage", timeout)
        assert call.ok, call
        return call

    async def inbox(self) -> int:
        return await self.baton.store.count("inbox")

    async def customer(self, user: str = USER) -> int:
        found = await self.baton.store.identity("slack", f"{TEAM}:{user}")
        assert found is not None, f"no slack identity {TEAM}:{user}"
        return found[1]


@asynccontextmanager
async def slack_baton(database_url: str) -> AsyncIterator[Slack]:
    emu = SlackEmulator(TOKEN, team_id=TEAM)
    async with emu.run() as api:
        adapter = SlackAdapter(TOKEN, SECRET, api_base=api)
        async with running_baton(
            database_url, app, adapters=[adapter], outbox_base_delay=0.05
        ) as baton:
            yield Slack(emu, baton)


def buttons(call: Call) -> list[dict[str, Any]]:
    return [
        element
        for block in call.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def message(
    text: str, *, ts: str, user: str = USER, event_id: str | None = None, **event: Any
) -> dict[str, Any]:
    """A DM `message` event_callback with a fixed ts; `event` overrides fields of the event."""
    payload = event_payload(team=TEAM, user=user, text=text, ts=ts, event_id=event_id)
    payload["event"].update(event)
    return payload


# --- conversations ---------------------------------------------------------------------------


async def test_dm_hi_is_answered_with_the_greeting_and_four_buttons(database_url: str) -> None:
    async with slack_baton(database_url) as slack:
        result = await slack.say("hi")
        assert result.status == 200
        call = await slack.reply()
        assert call.params["channel"] == DM
        assert call.params["text"] == GREETING
        assert call.params["blocks"][0] == {
            "type": "section",
            "text": {"type": "mrkdwn", "text": GREETING},
        }
        assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons(call)] == [
            ("choice:0", "order", "Where is my order?"),
            ("choice:1", "faq", "A question"),
            ("choice:2", "preferences", "My preferences"),
            ("choice:3", "agent", "Talk to a person"),
        ]
        assert await slack.inbox() == 1
        customer = await slack.customer()
        stored = [m for m in await slack.baton.store.messages(customer) if m.direction == "in"]
        assert [m.text for m in stored] == ["hi"]
        assert len(slack.emu.calls("auth.test")) == 1  # at start, never inside a webhook


async def test_a_button_press_continues_the_conversation(database_url: str) -> None:
    async with slack_baton(database_url) as slack:
        await slack.say("hi")
        greeting = await slack.reply()
        result = await slack.emu.customer_press(
            slack.interactive, SECRET, user=USER, action_id="choice:0", value="order"
        )
        assert result.status == 200
        call = await slack.reply()
        assert (call.params["channel"], call.params["text"]) == (DM, "What's your name?")
        await slack.say("Ada")
        assert (await slack.reply()).params["text"] == "Thanks, Ada. What's your order number?"
        assert greeting.response["ts"] != call.response["ts"]


async def test_a_mention_in_a_channel_is_answered_in_that_channel(database_url: str) -> None:
    async with slack_baton(database_url) as slack:
        payload = event_payload(
            team=TEAM,
            user=USER,
            text=f"<@{slack.emu.user_id}> hi",
            channel="C0GENERAL",
            channel_type="channel",
            ts=slack.emu.next_ts(),
        )
        payload["event"]["type"] = "app_mention"
        del payload["event"]["channel_type"]
        assert (await slack.post(payload)).status == 200
        call = await slack.reply()
        assert (call.params["channel"], call.params["text"]) == ("C0GENERAL", GREETING)
        customer = await slack.customer()
        stored = [m for m in await slack.baton.store.messages(customer) if m.direction == "in"]
        assert [m.text for m in stored] == ["hi"]  # the mention is stripped


# --- duplicates ------------------------------------------------------------------------------


async def test_one_message_delivered_many_ways_is_handled_once(database_url: str) -> None:
    async with slack_baton(database_url) as slack:
        ts = slack.emu.next_ts()
        first = message("hi", ts=ts)
        results = await asyncio.gather(*(slack.post(first) for _ in range(5)))
        assert [r.status for r in results] == [200] * 5
        assert (await slack.post(first, retry_num=1)).status == 200
        # Slack has sent one message under several event ids (node-slack-sdk#2141).
        assert (await slack.post(message("hi", ts=ts, event_id="Ev0OTHER01"))).status == 200
        mention = message(
            f"<@{slack.emu.user_id}> hi", ts=ts, event_id="Ev0OTHER02", type="app_mention"
        )
        assert (await slack.post(mention)).status == 200
        assert await slack.inbox() == 1

        assert (await slack.reply()).params["text"] == GREETING
        await slack.say("order")
        assert (await slack.reply()).params["text"] == "What's your name?"
        assert len(slack.emu.calls("chat.postMessage")) == 2  # no second greeting


# --- what is ignored -------------------------------------------------------------------------


async def test_bot_edited_and_other_events_are_acknowledged_and_ignored(sqlite_url: str) -> None:
    async with slack_baton(sqlite_url) as slack:
        emu = slack.emu
        other_bot = message("hi", ts=emu.next_ts(), user="U0OTHERBOT", bot_id="B0OTHER01")
        classic_bot = message(
            "hi", ts=emu.next_ts(), subtype="bot_message", bot_id="B0OTHER01", username="legacy"
        )
        del classic_bot["event"]["user"]
        own = message("hi", ts=emu.next_ts(), user=emu.user_id)
        changed = message(
            "",
            ts=emu.next_ts(),
            subtype="message_changed",
            hidden=True,
            message={
                "type": "message",
                "user": USER,
                "text": "hi",
                "ts": emu.next_ts(),
                "edited": {"user": USER},
            },
            previous_message={"type": "message", "user": USER, "text": "hey"},
        )
        deleted = message("", ts=emu.next_ts(), subtype="message_deleted", hidden=True)
        joined = message(
            f"<@{USER}> has joined the channel", ts=emu.next_ts(), subtype="channel_join"
        )
        in_channel = message("hi", ts=emu.next_ts(), channel="C0GENERAL", channel_type="channel")
        reaction = event_payload(team=TEAM, user=USER, text="")
        reaction["event"] = {
            "type": "reaction_added",
            "user": USER,
            "reaction": "thumbsup",
            "item": {"type": "message", "channel": DM, "ts": "1.000001"},
            "event_ts": emu.next_ts(),
        }
        for payload in (
            other_bot,
            classic_bot,
            own,
            changed,
            deleted,
            joined,
            in_channel,
            reaction,
        ):
            result = await slack.post(payload)
            assert result.status == 200, (payload["event"], result)
        assert await slack.inbox() == 0
        assert emu.calls("chat.postMessage") == []

        await slack.say("hi")
        assert (await slack.reply()).params["text"] == GREETING
        assert await slack.inbox() == 1


# --- webhook authentication ------------------------------------------------------------------


def _unsigned(body: str, content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type}


def _forged(body: str, content_type: str) -> dict[str, str]:
    return signed_headers("not-the-secret", body, content_type=content_type)


def _stale(body: str, content_type: str) -> dict[str, str]:
    return signed_headers(
        SECRET, body, timestamp=int(time.time()) - 301, content_type=content_type
    )


def _future(body: str, content_type: str) -> dict[str, str]:
    return signed_headers(
        SECRET, body, timestamp=int(time.time()) + 301, content_type=content_type
    )


def _tampered(body: str, content_type: str) -> dict[str, str]:
    return signed_headers(SECRET, body.replace("hi", "ho"), content_type=content_type)


def _no_timestamp(body: str, content_type: str) -> dict[str, str]:
    headers = signed_headers(SECRET, body, content_type=content_type)
    del headers["X-Slack-Request-Timestamp"]
    return headers


def _bad_timestamp(body: str, content_type: str) -> dict[str, str]:
    return {
        **signed_headers(SECRET, body, content_type=content_type),
        "X-Slack-Request-Timestamp": "12e9",
    }


def _empty_signature(body: str, content_type: str) -> dict[str, str]:
    return {**signed_headers(SECRET, body, content_type=content_type), "X-Slack-Signature": ""}


def _non_ascii_signature(body: str, content_type: str) -> dict[str, str]:
    headers = signed_headers(SECRET, body, content_type=content_type)
    return {**headers, "X-Slack-Signature": headers["X-Slack-Signature"][:-1] + "é"}


BAD_SIGNATURES = [
    _unsigned,
    _forged,
    _stale,
    _future,
    _tampered,
    _no_timestamp,
    _bad_timestamp,
    _empty_signature,
    _non_ascii_signature,
]


@pytest.mark.parametrize("headers", BAD_SIGNATURES, ids=lambda f: f.__name__.strip("_"))
async def test_unverified_webhooks_get_401_and_nothing_is_stored(
    sqlite_url: str, headers: Any
) -> None:
    async with slack_baton(sqlite_url) as slack:
        event = json.dumps(message("hi", ts=slack.emu.next_ts()))
        press = "payload=" + quote(
            json.dumps(
                block_actions_payload(
                    team=TEAM, user=USER, action_id="choice:0", value="order", label="hi"
                )
            )
        )
        challenge = json.dumps(
            {"token": "t", "challenge": "hi-challenge", "type": "url_verification"}
        )
        for url, body, content_type in (
            (slack.events, event, JSON),
            (slack.interactive, press, FORM),
            (slack.events, challenge, JSON),
        ):
            result = await post_webhook(url, body, headers(body, content_type))
            assert result.status == 401, (url, result)
            assert "hi-challenge" not in result.body
        assert await slack.inbox() == 0
        assert slack.emu.calls("chat.postMessage") == []


async def test_ssl_check_bodies_are_verified_too(sqlite_url: str) -> None:
    """bolt-python#1494: bolt skipped verification of bodies carrying ssl_check=1."""
    async with slack_baton(sqlite_url) as slack:
        payload = block_actions_payload(team=TEAM, user=USER, action_id="choice:0", value="order")
        body = "ssl_check=1&token=x&payload=" + quote(json.dumps(payload))
        for url in (slack.interactive, slack.events):
            result = await post_webhook(url, body, {"Content-Type": FORM})
            assert result.status == 401
        assert await slack.inbox() == 0


async def test_verification_comes_before_anything_is_read(sqlite_url: str) -> None:
    """Our own check runs first: unsigned junk is a 401, not a 400 or 415 that leaks parsing."""
    async with slack_baton(sqlite_url) as slack:
        for url, body, content_type in (
            (slack.events, "{not json", JSON),
            (slack.events, "hi", "text/plain"),
            (slack.interactive, "payload=%7Bnot", FORM),
            (slack.interactive, "type=ssl_check", "text/plain"),
        ):
            result = await post_webhook(url, body, _forged(body, content_type))
            assert result.status == 401, (url, body, result)


async def test_url_verification_is_answered_after_verification(sqlite_url: str) -> None:
    async with slack_baton(sqlite_url) as slack:
        payload = {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9",
            "type": "url_verification",
        }
        result = await slack.post(payload)
        assert result.status == 200
        assert result.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9"}
        assert await slack.inbox() == 0


# --- bad input -------------------------------------------------------------------------------


async def test_malformed_signed_bodies_get_a_4xx_not_a_500(sqlite_url: str) -> None:
    async with slack_baton(sqlite_url) as slack:
        good_event = json.dumps(message("hi", ts=slack.emu.next_ts()))
        cases = [
            (slack.events, "{not json", JSON, 400),
            (slack.events, "[1, 2]", JSON, 400),
            (slack.events, '{"type": "event_callback", "event": "hi"}', JSON, 400),
            (slack.events, good_event, "text/plain", 415),
            (slack.events, "payload=" + quote(good_event), FORM, 415),
            (slack.interactive, "action=1", FORM, 400),
            (slack.interactive, "payload=%7Bnot+json", FORM, 400),
            (slack.interactive, "payload=1&payload=2", FORM, 400),
            (slack.interactive, "payload=" + quote(good_event), FORM, 400),
            (slack.interactive, '{"type": "block_actions"}', JSON, 415),
            # The inbox refuses a key over 255 characters; the answer is 400, not 500.
            (slack.events, json.dumps(message("hi", ts="1" * 300)), JSON, 400),
        ]
        for url, body, content_type, status in cases:
            headers = signed_headers(SECRET, body, content_type=content_type)
            result = await post_webhook(url, body, headers)
            assert result.status == status, (body[:60], result.status, result.body[:200])

        huge = json.dumps({"pad": "x" * (1024 * 1024 + 10)})
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                slack.events,
                data=io.BytesIO(huge.encode()),
                headers=signed_headers(SECRET, huge, content_type=JSON),
            ) as response,
        ):
            assert response.status == 413
        assert await slack.inbox() == 0
        assert slack.emu.calls("chat.postMessage") == []


# --- outbound failures -----------------------------------------------------------------------


async def test_a_429_is_retried_after_retry_after_and_delivered(database_url: str) -> None:
    async with slack_baton(database_url) as slack:
        slack.emu.fail_next(1, status=429, retry_after=1, method="chat.postMessage")
        await slack.say("hi")
        limited = await slack.emu.next_call("chat.postMessage")
        assert limited.status == 429
        delivered = await slack.reply()
        assert (delivered.params["channel"], delivered.params["text"]) == (DM, GREETING)
        assert len(slack.emu.calls("chat.postMessage")) == 2


async def test_a_500_is_retried(database_url: str) -> None:
    async with slack_baton(database_url) as slack:
        slack.emu.fail_next(1, status=500, method="chat.postMessage")
        await slack.say("hi")
        failed = await slack.emu.next_call("chat.postMessage")
        assert failed.status == 500
        delivered = await slack.reply()
        assert delivered.params["text"] == GREETING


# --- the adapter on its own ------------------------------------------------------------------


async def test_send_without_a_route_opens_the_dm() -> None:
    emu = SlackEmulator(TOKEN, team_id=TEAM)
    async with emu.run() as api:
        adapter = SlackAdapter(TOKEN, SECRET, api_base=api)
        await adapter.start()
        try:
            assert (adapter.bot_user_id, adapter.bot_id, adapter.team_id) == (
                emu.user_id,
                emu.bot_id,
                TEAM,
            )
            sent = await adapter.send(
                Address("slack", f"{TEAM}:U0CUST002"),
                adapter.render(Prompt("Hello <there> & welcome")),
            )
            opened = await emu.next_call("conversations.open")
            assert opened.params["users"] == "U0CUST002"
            posted = await emu.next_call("chat.postMessage")
            assert posted.params["channel"] == "D0CUST002"
            assert posted.params["text"] == "Hello &lt;there&gt; &amp; welcome"
            assert sent.platform_ids == (posted.response["ts"],)
        finally:
            await adapter.aclose()


async def test_start_fails_clearly_on_a_rejected_token() -> None:
    emu = SlackEmulator("xoxb-the-right-one")
    async with emu.run() as api:
        adapter = SlackAdapter("xoxb-a-wrong-one", SECRET, api_base=api)
        with pytest.raises(AdapterError, match="invalid_auth"):
            await adapter.start()
        await adapter.aclose()
