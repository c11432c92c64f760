"""The Twilio channel end to end: the real Baton and demo bot, the real twilio SDK, and the
Twilio emulator, over real HTTP on loopback.

Inbound SMS are POSTed by the emulator's customer side, signed exactly as Twilio signs them,
against the configured public URL (`https://bot.example.com`, as behind a TLS-terminating
proxy), while the request itself goes to Baton's loopback port.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from twilio.request_validator import RequestValidator

from adapters.base import Address, Prompt
from adapters.emulators import (
    Call,
    TwilioEmulator,
    WebhookResult,
    new_sid,
    post_webhook,
    sms_params,
)
from adapters.errors import AdapterError, RateLimited, SendError, Unreachable
from adapters.twilio import SMS_PATH, STATUS_PATH, TwilioAdapter
from bot.demo import app
from dialogs import App, Context, Keyword, flow
from storage import MessageRow
from tests.support.baton import Running, running_baton

# twilio's AsyncTwilioHttpClient passes aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

CUSTOMER = "+15551230001"
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "https://bot.example.com"
GREETING = (
    "Hi! I'm the Baton demo bot. What can I help you with?\n\n"
    "1. Where is my order?\n2. A question\n3. My preferences\n4. Talk to a person"
)
GREETING_TEXT = "Hi! I'm the Baton demo bot. What can I help you with?"
"""The greeting as stored: the prompt's text, without the rendered options."""
PICK_ONE = (
    "Please pick one of the options.\n\n"
    "1. Where is my order?\n2. A question\n3. My preferences\n4. Talk to a person"
)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FAST = {"outbox_base_delay": 0.02, "outbox_max_delay": 0.1}
FORM = "application/x-www-form-urlencoded"


@dataclass
class Sms:
    """A customer texting a Baton that runs the Twilio adapter against the emulator."""

    emu: TwilioEmulator
    baton: Running
    adapter: TwilioAdapter

    async def text(self, body: str, *, from_: str = CUSTOMER) -> WebhookResult:
        """Text our number; the emulator signs it over the configured public URL."""
        return await self.emu.customer_sms(
            self.baton.url(SMS_PATH),
            self.signed_url(SMS_PATH),
            from_=from_,
            to=OUR_NUMBER,
            body=body,
        )

    async def post(self, path: str, params: Mapping[str, str]) -> WebhookResult:
        """POST any form fields to a webhook, signed as Twilio signs them."""
        return await self.emu.deliver(self.baton.url(path), self.signed_url(path), None, params)

    def signed_url(self, path: str) -> str:
        return (self.adapter.public_url or "") + path

    async def reply(self, timeout: float = 10.0) -> Call:
        """The next message Baton sent through the Messages API."""
        return await self.emu.next_call("messages.create", timeout)

    async def customer(self, number: str = CUSTOMER) -> int:
        found = await self.baton.store.identity("twilio", number)
        assert found is not None, f"no twilio identity {number}"
        return found[1]

    async def messages(self, number: str = CUSTOMER) -> list[MessageRow]:
        return await self.baton.store.messages(await self.customer(number))


@asynccontextmanager
async def sms_baton(
    database_url: str,
    *,
    public_url: str | None = PUBLIC_URL,
    bot: App = app,
    **settings: object,
) -> AsyncIterator[Sms]:
    emu = TwilioEmulator()
    async with emu.run() as api:
        adapter = TwilioAdapter(
            emu.account_sid, emu.auth_token, OUR_NUMBER, public_url=public_url, api_base=api
        )
        async with running_baton(
            database_url, bot, adapters=[adapter], **(FAST | settings)
        ) as baton:
            yield Sms(emu, baton, adapter)


# --- conversations ----------------------------------------------------------------------------


async def test_greeting_has_numbered_options_and_a_number_picks_one(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        answered = await sms.text("hi")
        greeting = await sms.reply()
        await sms.text("1")
        asked = await sms.reply()
        messages = await sms.messages()

    assert answered.status == 200
    assert answered.body == EMPTY_TWIML
    assert answered.headers["Content-Type"].startswith("text/xml")
    assert greeting.status == 201
    assert greeting.params["To"] == CUSTOMER
    assert greeting.params["From"] == OUR_NUMBER
    assert greeting.params["Body"] == GREETING
    assert greeting.params["StatusCallback"] == PUBLIC_URL + STATUS_PATH
    assert asked.params["Body"] == "What's your name?"
    assert [(m.direction, m.text) for m in messages][:3] == [
        ("in", "hi"),
        ("out", GREETING_TEXT),
        ("in", "1"),
    ]
    # The greeting's send was recorded before the next reply left (one outbox chain).
    assert messages[1].delivery_status == "sent"


async def test_a_long_reply_is_split_into_numbered_parts(sqlite_url: str) -> None:
    name = " ".join(["Ada Lovelace"] * 150)
    async with sms_baton(sqlite_url) as sms:
        await sms.text("hi")
        await sms.reply()
        await sms.text("1")
        await sms.reply()
        await sms.text(name)
        first, second = await sms.reply(), await sms.reply()

    bodies = [first.params["Body"], second.params["Body"]]
    assert all(len(body) <= 1600 for body in bodies)
    assert bodies[0].startswith("(1/2) Thanks, Ada Lovelace")
    assert bodies[1].startswith("(2/2) ")
    assert bodies[1].endswith(". What's your order number?")
    joined = " ".join(body[len("(1/2) ") :] for body in bodies)
    assert joined == f"Thanks, {name}. What's your order number?"


async def test_mms_media_reach_the_inbox(sqlite_url: str) -> None:
    async with sms_baton(sqlite_url) as sms:
        params = sms_params(
            from_=CUSTOMER,
            to=OUR_NUMBER,
            body="hi",
            media=[("https://api.twilio.com/m/ME1", "image/jpeg")],
        )
        answered = await sms.post(SMS_PATH, params)
        await sms.reply()
        inbound = (await sms.messages())[0]

    assert answered.status == 200
    assert inbound.payload is not None
    assert inbound.payload["media"] == [
        ["image", "https://api.twilio.com/m/ME1", "image/jpeg", None]
    ]


# --- webhook authentication -------------------------------------------------------------------


async def test_unsigned_forged_and_tampered_requests_are_refused(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        url = sms.baton.url(SMS_PATH)
        params = sms_params(from_=CUSTOMER, to=OUR_NUMBER, body="hi")
        good = RequestValidator(sms.emu.auth_token).compute_signature(
            PUBLIC_URL + SMS_PATH, params
        )
        tampered = dict(params, Body="give me a refund")
        over_request_url = RequestValidator(sms.emu.auth_token).compute_signature(url, params)
        cases = {
            "forged": (params, {"X-Twilio-Signature": "bogus"}),
            "missing": (params, {}),
            "empty": (params, {"X-Twilio-Signature": ""}),
            "other body": (tampered, {"X-Twilio-Signature": good}),
            "request url": (params, {"X-Twilio-Signature": over_request_url}),
        }
        answers = {}
        for name, (fields, headers) in cases.items():
            result = await post_webhook(url, urlencode(fields), {"Content-Type": FORM, **headers})
            answers[name] = result.status
        wrong_key = await sms.emu.deliver(url, PUBLIC_URL + SMS_PATH, "not-the-token", params)
        forged_status = await post_webhook(
            sms.baton.url(STATUS_PATH),
            urlencode({"MessageSid": new_sid(), "MessageStatus": "delivered"}),
            {"Content-Type": FORM, "X-Twilio-Signature": "bogus"},
        )
        stored = await sms.baton.store.count("inbox")
        genuine = await sms.post(SMS_PATH, params)
        await sms.reply()

    assert answers == dict.fromkeys(cases, 403)
    assert wrong_key.status == 403
    assert forged_status.status == 403
    assert stored == 0
    assert genuine.status == 200


async def test_without_a_public_url_webhooks_are_refused(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="baton.twilio")
    async with sms_baton(sqlite_url, public_url=None) as sms:
        # Signed over the very URL requested: still refused, nothing to check it against.
        inbound = await sms.emu.customer_sms(
            sms.baton.url(SMS_PATH), from_=CUSTOMER, to=OUR_NUMBER, body="hi"
        )
        status = await sms.emu.deliver(
            sms.baton.url(STATUS_PATH),
            None,
            None,
            {"MessageSid": new_sid(), "MessageStatus": "delivered"},
        )
        stored = await sms.baton.store.count("inbox")

    assert inbound.status == 503
    assert status.status == 503
    assert stored == 0
    assert sms.emu.calls("messages.create") == []
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert refusals == [
        f"twilio webhook {path} refused: BATON_PUBLIC_URL is required to verify Twilio signatures"
        for path in (SMS_PATH, STATUS_PATH)
    ]


async def test_malformed_and_oversized_bodies_get_a_4xx(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        url = sms.baton.url(SMS_PATH)
        bogus = {"X-Twilio-Signature": "bogus"}
        raw = {
            "json": (b'{"Body": "hi"}', {"Content-Type": "application/json", **bogus}),
            "multipart": (b"--x--", {"Content-Type": "multipart/form-data; boundary=x", **bogus}),
            "not utf-8": (b"Body=\xff\xfe", {"Content-Type": FORM, **bogus}),
            "unknown charset": (b"Body=hi", {"Content-Type": FORM + "; charset=nope", **bogus}),
        }
        answers = {}
        for name, (body, headers) in raw.items():
            answers[name] = (await post_webhook(url, body, headers)).status
        async with (
            ClientSession() as http,
            http.post(
                url,
                data=io.BytesIO(b"Body=" + b"a" * (2 * 1024 * 1024)),
                headers={"Content-Type": FORM, **bogus},
            ) as response,
        ):
            answers["oversized"] = response.status
        no_sid = {
            k: v
            for k, v in sms_params(from_=CUSTOMER, to=OUR_NUMBER, body="hi").items()
            if k != "MessageSid"
        }
        signed = {
            "no MessageSid": await sms.post(SMS_PATH, no_sid),
            "bad NumMedia": await sms.post(
                SMS_PATH,
                sms_params(from_=CUSTOMER, to=OUR_NUMBER, body="hi") | {"NumMedia": "many"},
            ),
            "MessageSid too long": await sms.post(
                SMS_PATH,
                sms_params(from_=CUSTOMER, to=OUR_NUMBER, body="hi", message_sid="SM" + "0" * 300),
            ),
            "status without MessageStatus": await sms.post(STATUS_PATH, {"MessageSid": new_sid()}),
        }
        stored = await sms.baton.store.count("inbox")

    assert answers == {
        "json": 415,
        "multipart": 415,
        "not utf-8": 400,
        "unknown charset": 400,
        "oversized": 413,
    }
    assert {name: result.status for name, result in signed.items()} == dict.fromkeys(signed, 400)
    assert stored == 0
    assert sms.emu.calls("messages.create") == []


# --- duplicates -------------------------------------------------------------------------------


async def test_a_redelivered_message_sid_gets_one_reply(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        params = sms_params(from_=CUSTOMER, to=OUR_NUMBER, body="hi")
        burst = await asyncio.gather(*[sms.post(SMS_PATH, params) for _ in range(5)])
        greeting = await sms.reply()
        later = await sms.post(SMS_PATH, params)
        await sms.text("1")
        # Replies to one customer leave in order: a second greeting would come first.
        asked = await sms.reply()
        stored = await sms.baton.store.count("inbox")

    assert [r.status for r in burst] == [200] * 5
    assert later.status == 200
    assert greeting.params["Body"] == GREETING
    assert asked.params["Body"] == "What's your name?"
    assert len(sms.emu.calls("messages.create")) == 2
    assert stored == 2


# --- opt-out ----------------------------------------------------------------------------------


async def test_stop_opts_out_until_start(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        await sms.text("hi")
        await sms.reply()
        stopped = await sms.text("STOP")
        await sms.text("hi")  # opted out: the reply is recorded, not sent
        started = await sms.text("start")
        await sms.text("hi")
        after_start = await sms.reply()
        messages = await sms.messages()
        identity = await sms.baton.store.identity("twilio", CUSTOMER)
        assert identity is not None
        flags = await sms.baton.store.identity_flags(identity[0])

    assert stopped.status == 200
    assert stopped.body == EMPTY_TWIML
    assert started.status == 200
    # No reply to STOP or START, none while opted out: the next message out is the last reply.
    assert after_start.status == 201
    assert after_start.params["Body"] == PICK_ONE
    # (A third message follows: the second unmatched answer in a row hands off to a person.)
    assert [c.params["Body"] for c in sms.emu.calls("messages.create")][:2] == [
        GREETING,
        PICK_ONE,
    ]
    assert [(m.direction, m.text, m.delivery_status) for m in messages][:6] == [
        ("in", "hi", "received"),
        ("out", GREETING_TEXT, "sent"),
        ("in", "STOP", "received"),
        ("in", "hi", "received"),
        ("out", "Please pick one of the options.", "not sent"),
        ("in", "start", "received"),
    ]
    assert flags == {"opted_out": False, "unreachable": False}


@flow(triggers=[Keyword("deliver")])
async def _confirm(ctx: Context) -> None:
    answer = await ctx.ask("Deliver on Monday?", choices=["Yes", "No"])
    await ctx.say(f"You said {answer}.")


async def test_yes_from_a_number_that_never_opted_out_is_an_answer(database_url: str) -> None:
    # YES is one of Twilio's opt-in words; from a number that did not opt out it changes
    # nothing at Twilio, and the customer meant it as an answer.
    async with sms_baton(database_url, bot=App(flows=[_confirm])) as sms:
        await sms.text("deliver")
        asked = await sms.reply()
        await sms.text("YES")
        said = await sms.reply()
        identity = await sms.baton.store.identity("twilio", CUSTOMER)
        assert identity is not None
        flags = await sms.baton.store.identity_flags(identity[0])

    assert asked.params["Body"].startswith("Deliver on Monday?")
    assert said.params["Body"] == "You said Yes."
    assert flags == {"opted_out": False, "unreachable": False}


async def test_an_opted_out_number_at_twilio_fails_once_and_is_not_retried(
    database_url: str,
) -> None:
    async with sms_baton(database_url) as sms:
        sms.emu.opt_out(CUSTOMER)  # opted out at Twilio; Baton was not told
        await sms.text("hi")
        refused = await sms.reply()
        await sms.text("START")
        await sms.text("hi")
        after_start = await sms.reply()
        customer = await sms.customer()
        outbox = await sms.baton.store.outbox(customer)
        messages = await sms.messages()

    assert refused.status == 400
    assert refused.response["code"] == 21610
    assert after_start.status == 201
    assert after_start.params["Body"] == PICK_ONE
    assert len(sms.emu.calls("messages.create")) == 2
    assert (outbox[0]["status"], outbox[0]["attempts"]) == ("failed", 1)
    assert messages[1].delivery_status == "failed"


# --- outbound failures ------------------------------------------------------------------------


async def test_rate_limited_send_is_retried_and_delivered(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        sms.emu.fail_next(status=429, retry_after=1, method="messages.create")
        await sms.text("hi")
        limited, delivered = await sms.reply(), await sms.reply()
        await sms.text("1")
        await sms.reply()
        outbox = await sms.baton.store.outbox(await sms.customer())

    assert limited.status == 429
    assert delivered.status == 201
    assert delivered.params["Body"] == GREETING
    assert (outbox[0]["status"], outbox[0]["attempts"]) == ("sent", 2)


async def test_server_error_is_retried(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        sms.emu.fail_next(count=2, status=500, method="messages.create")
        await sms.text("hi")
        calls = [await sms.reply() for _ in range(3)]

    assert [call.status for call in calls] == [500, 500, 201]
    assert calls[2].params["Body"] == GREETING
    assert sms.emu.sent_to(CUSTOMER) == [GREETING]


# --- delivery receipts ------------------------------------------------------------------------


async def test_status_callbacks_update_the_delivery_status(database_url: str) -> None:
    async with sms_baton(database_url) as sms:
        await sms.text("hi")
        greeting = await sms.reply()
        await sms.text("1")
        asked = await sms.reply()  # the greeting's sid is stored before this one is sent
        sid, other = greeting.response["sid"], asked.response["sid"]
        status = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": "delivered",
            "SmsStatus": "delivered",
            "To": CUSTOMER,
            "From": OUR_NUMBER,
            "AccountSid": sms.emu.account_sid,
            "ApiVersion": "2010-04-01",
        }
        delivered = await sms.post(STATUS_PATH, status)
        forged = await post_webhook(
            sms.baton.url(STATUS_PATH),
            urlencode(status | {"MessageSid": other, "MessageStatus": "failed"}),
            {"Content-Type": FORM, "X-Twilio-Signature": "bogus"},
        )
        unknown = await sms.post(STATUS_PATH, status | {"MessageSid": new_sid()})
        messages = await sms.messages()

    assert delivered.status == 204
    assert forged.status == 403
    assert unknown.status == 204
    outbound = [m for m in messages if m.direction == "out"]
    assert outbound[0].delivery_status == "delivered"
    assert outbound[1].delivery_status in ("pending", "sent")  # the forged "failed" was refused
    assert outbound[0].text == GREETING_TEXT


# --- the adapter's send, against the emulator (no Baton) --------------------------------------


@asynccontextmanager
async def bare_adapter() -> AsyncIterator[tuple[TwilioEmulator, TwilioAdapter]]:
    emu = TwilioEmulator()
    async with emu.run() as api:
        adapter = TwilioAdapter(
            emu.account_sid, emu.auth_token, OUR_NUMBER, public_url=PUBLIC_URL, api_base=api
        )
        await adapter.start()
        try:
            yield emu, adapter
        finally:
            await adapter.aclose()


TO = Address("twilio", CUSTOMER)


async def test_send_maps_twilio_errors() -> None:
    async with bare_adapter() as (emu, adapter):
        hello = adapter.render(Prompt("Hello"))
        emu.fail_next(status=429, retry_after=7, method="messages.create")
        with pytest.raises(RateLimited) as limited:
            await adapter.send(TO, hello)
        emu.fail_next(status=500, method="messages.create")
        with pytest.raises(SendError) as broken:
            await adapter.send(TO, hello)
        with pytest.raises(SendError) as empty:
            await adapter.send(TO, adapter.render(Prompt("")))
        emu.opt_out(CUSTOMER)
        with pytest.raises(Unreachable) as opted_out:
            await adapter.send(TO, hello)
        emu.opt_in(CUSTOMER)
        sent = await adapter.send(TO, hello)

    assert limited.value.retry_after == 7.0
    assert broken.value.retryable is True
    assert not isinstance(broken.value, Unreachable | RateLimited)
    assert empty.value.retryable is False
    assert empty.value.code == "21602"
    assert opted_out.value.code == "opted_out"
    assert opted_out.value.retryable is False
    assert len(sent.platform_ids) == 1
    assert sent.platform_ids[0] == emu.calls("messages.create")[-1].response["sid"]


async def test_send_attaches_media_to_the_first_part() -> None:
    from adapters.base import Media

    prompt = Prompt("x " * 1000, media=(Media("image", "https://cdn.example.com/a.png"),))
    async with bare_adapter() as (emu, adapter):
        sent = await adapter.send(TO, adapter.render(prompt))
        calls = emu.calls("messages.create")

    assert len(sent.platform_ids) == 2
    assert calls[0].params["MediaUrl"] == ["https://cdn.example.com/a.png"]
    assert "MediaUrl" not in calls[1].params


async def test_a_retried_multipart_send_does_not_repeat_parts_already_sent() -> None:
    prompt = Prompt(" ".join(["word"] * 900))  # about 4500 characters: three parts
    async with bare_adapter() as (emu, adapter):
        rendered = adapter.render(prompt)
        sending = asyncio.ensure_future(adapter.send(TO, rendered))
        await emu.next_call("messages.create")
        emu.fail_next(status=500, method="messages.create")  # the second part fails
        with pytest.raises(SendError) as failed:
            await sending
        sent = await adapter.send(TO, rendered)
        bodies = emu.sent_to(CUSTOMER)

    assert len(rendered.parts) == 3
    assert failed.value.retryable is True
    assert bodies == [part["body"] for part in rendered.parts]
    assert len(sent.platform_ids) == 3


async def test_unreachable_api_is_a_retryable_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = TwilioAdapter(
        "AC" + "0" * 32,
        "token",
        OUR_NUMBER,
        public_url=PUBLIC_URL,
        api_base=f"http://127.0.0.1:{port}",
    )
    try:
        await adapter.start()  # logs a warning, does not fail the start
        with pytest.raises(SendError) as failed:
            await adapter.send(TO, adapter.render(Prompt("Hello")))
    finally:
        await adapter.aclose()

    assert failed.value.retryable is True


async def test_wrong_credentials_fail_the_start() -> None:
    emu = TwilioEmulator()
    async with emu.run() as api:
        adapter = TwilioAdapter(
            emu.account_sid, "wrong-token", OUR_NUMBER, public_url=PUBLIC_URL, api_base=api
        )
        try:
            with pytest.raises(AdapterError, match="auth token"):
                await adapter.start()
        finally:
            await adapter.aclose()
