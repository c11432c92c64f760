"""The sandbox (/sandbox) end to end: real HTTP against Baton built as `baton run` builds it.

Each pane's message goes through the sandbox API, which has the platform emulator POST a signed
webhook to Baton's own webhook URL; the real adapter verifies it, the engine runs the demo bot,
and the reply goes out through the official SDK to the emulator, whose record the pane polls.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.emulators import SlackView, TelegramEmulator, TelegramView, TwilioView
from adapters.slack import EVENTS_PATH
from adapters.telegram import PATH as TELEGRAM_PATH
from adapters.twilio import SMS_PATH
from bot.app import ADAPTERS, STORE
from bot.channels import sandbox_wanted
from bot.demo import app as demo
from bot.sandbox import BOT_NUMBER, SANDBOX, Customer, Sandbox, banner, build_app, local_url
from bot.settings import Settings
from dialogs import App
from storage import Store

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
CHOICES = ["Where is my order?", "A question", "My preferences", "Talk to a person"]
NUMBERED = "\n".join(f"{i}. {label}" for i, label in enumerate(CHOICES, start=1))
NO_CREDENTIALS: dict[str, Any] = {
    "telegram_token": None,
    "telegram_secret": None,
    "twilio_account_sid": None,
    "twilio_auth_token": None,
    "twilio_from": None,
    "slack_bot_token": None,
    "slack_signing_secret": None,
    "public_url": None,
    "sandbox": None,
}
FAST = {"outbox_base_delay": 0.05, "outbox_max_delay": 0.2}


@dataclass
class SandboxServer:
    """A running Baton in sandbox mode, on a loopback port."""

    url: str
    app: web.Application

    @property
    def sandbox(self) -> Sandbox:
        return self.app[SANDBOX]

    @property
    def store(self) -> Store:
        return self.app[STORE]


def loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's own sockets
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving(app: web.Application, sock: socket.socket) -> AsyncIterator[None]:
    """Serve `app` on `sock` as `web.run_app` does (startup, listen; shutdown, cleanup)."""
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield
    finally:
        await runner.cleanup()
        sock.close()


@asynccontextmanager
async def sandbox_baton(
    database_url: str, *, tell_own_url: bool = True, bot: App = demo, **settings: Any
) -> AsyncIterator[SandboxServer]:
    """Baton with the demo bot (or `bot`) in sandbox mode, built as `baton run` builds it (no
    credentials, so the sandbox is on), listening on a loopback port.

    With `tell_own_url=False` the sandbox is not told its URL (as with `baton run --port 0`)
    and learns it from the first API request.
    """
    config = Settings(database_url=database_url, **{**NO_CREDENTIALS, **FAST, **settings})
    assert sandbox_wanted(config)
    sock = loopback_socket()
    base = local_url("127.0.0.1", sock.getsockname()[1])
    assert base is not None
    app = await build_app(config, bot, base_url=base if tell_own_url else None)
    async with serving(app, sock):
        yield SandboxServer(base, app)


class Pane:
    """One pane of the page, driven through the sandbox API as the page's script does."""

    def __init__(self, http: aiohttp.ClientSession, base: str, channel: str) -> None:
        self.http = http
        self.url = f"{base}/sandbox/api/{channel}/messages"
        self.after = 0

    async def post(self, body: dict[str, Any], *, status: int = 200) -> dict[str, Any]:
        async with self.http.post(self.url, json=body) as response:
            assert response.status == status, await response.text()
            if response.content_type != "application/json":
                return {"text": await response.text()}
            answer: dict[str, Any] = await response.json()
            return answer

    async def say(self, text: str) -> dict[str, Any]:
        return await self.post({"text": text})

    async def messages(self, wait: float = 10.0) -> list[dict[str, Any]]:
        """The next messages after the cursor (long poll of at most `wait` seconds)."""
        params = {"after": str(self.after), "wait": str(wait)}
        async with self.http.get(self.url, params=params) as response:
            assert response.status == 200, await response.text()
            data = await response.json()
        found: list[dict[str, Any]] = data["messages"]
        if found:
            self.after = found[-1]["seq"]
        return found

    async def bot_says(self) -> dict[str, Any]:
        """The bot's next message; the customer's own ones before it are skipped."""
        for _ in range(10):  # each round is one long poll, answered as soon as one arrives
            for message in await self.messages():
                if message["from"] != "customer":
                    assert message["from"] == "bot", message
                    return message
        raise AssertionError("the bot did not answer")


@asynccontextmanager
async def browser_session(base: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client with its own cookie jar that has opened /sandbox (so it has a session)."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/sandbox") as response:
            assert response.status == 200
        yield http


def customer_of(http: aiohttp.ClientSession) -> Customer:
    cookie = next(c for c in http.cookie_jar if c.key == "baton_sandbox")
    return Customer.for_session(cookie.value)


def labels(message: dict[str, Any]) -> list[str]:
    return [button["label"] for button in message["buttons"]]


def press(message: dict[str, Any], label: str) -> dict[str, Any]:
    """The body the page POSTs when the button `label` of `message` is pressed."""
    send: dict[str, Any] = next(b["send"] for b in message["buttons"] if b["label"] == label)
    return send


# --- the conversation on each pane ------------------------------------------------------------


@pytest.mark.parametrize("channel", ["telegram", "slack"])
async def test_hi_gets_the_greeting_buttons_and_the_order_button_asks_for_a_name(
    database_url: str, channel: str
) -> None:
    async with sandbox_baton(database_url) as baton, browser_session(baton.url) as http:
        pane = Pane(http, baton.url, channel)
        sent = await pane.say("hi")
        greeting = await pane.bot_says()
        pressed = await pane.post(press(greeting, "Where is my order?"))
        asked = await pane.bot_says()
        emu = baton.sandbox.emulator(channel)
        method = "sendMessage" if channel == "telegram" else "chat.postMessage"
        sends = [call for call in emu.calls(method) if call.ok]
        callbacks = emu.calls("answerCallbackQuery")
    assert sent["ok"] is True
    assert sent["status"] == 200
    assert greeting["text"] == GREETING
    assert labels(greeting) == CHOICES
    assert press(greeting, "Where is my order?")["choice"] == "order"
    assert pressed["ok"] is True
    assert pressed["webhook"] == (
        TELEGRAM_PATH if channel == "telegram" else "/webhooks/slack/interactive"
    )
    assert asked["text"] == "What's your name?"
    assert asked["buttons"] == []
    # The replies really went out through the SDK to the emulator, to this customer.
    customer = customer_of(http)
    assert [(c.recipient, c.text) for c in sends] == [
        (customer.recipient(channel), GREETING),
        (customer.recipient(channel), "What's your name?"),
    ]
    if channel == "telegram":
        keyboard = sends[0].params["reply_markup"]["inline_keyboard"]
        assert [row[0]["callback_data"] for row in keyboard] == [
            "order",
            "faq",
            "preferences",
            "agent",
        ]
        assert len(callbacks) == 1
    else:
        blocks = sends[0].params["blocks"]
        values = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        assert values == ["order", "faq", "preferences", "agent"]


async def test_sms_gets_numbered_choices_and_1_asks_for_a_name(database_url: str) -> None:
    async with sandbox_baton(database_url) as baton, browser_session(baton.url) as http:
        pane = Pane(http, baton.url, "twilio")
        sent = await pane.say("hi")
        greeting = await pane.bot_says()
        refused = await pane.post({"choice": "order"}, status=400)
        await pane.say("1")
        asked = await pane.bot_says()
        creates = [
            call for call in baton.sandbox.emulator("twilio").calls("messages.create") if call.ok
        ]
    assert (sent["ok"], sent["status"], sent["webhook"]) == (True, 200, SMS_PATH)
    assert greeting["text"] == f"{GREETING}\n\n{NUMBERED}"
    assert greeting["buttons"] == []
    assert "type the number" in refused["text"]
    assert asked["text"] == "What's your name?"
    phone = customer_of(http).phone
    assert [(c.params["To"], c.params["From"], c.text) for c in creates] == [
        (phone, BOT_NUMBER, f"{GREETING}\n\n{NUMBERED}"),
        (phone, BOT_NUMBER, "What's your name?"),
    ]


async def test_a_choice_can_be_sent_by_value_alone(sqlite_url: str) -> None:
    async with sandbox_baton(sqlite_url) as baton, browser_session(baton.url) as http:
        pane = Pane(http, baton.url, "slack")
        await pane.say("hi")
        await pane.bot_says()
        unknown = await pane.post({"choice": "no-such-button"}, status=409)
        await pane.post({"choice": "order"})
        asked = await pane.bot_says()
    assert "no button" in unknown["text"]
    assert asked["text"] == "What's your name?"


async def test_two_browsers_are_two_customers(sqlite_url: str) -> None:
    async with (
        sandbox_baton(sqlite_url) as baton,
        browser_session(baton.url) as first,
        browser_session(baton.url) as second,
    ):
        await Pane(second, baton.url, "telegram").say("hi")
        assert (await Pane(second, baton.url, "telegram").bot_says())["text"] == GREETING
        seen_by_first = await Pane(first, baton.url, "telegram").messages(wait=0)
    assert customer_of(first) != customer_of(second)
    assert seen_by_first == []


async def test_the_sandbox_learns_its_own_url_when_not_told(sqlite_url: str) -> None:
    async with (
        sandbox_baton(sqlite_url, tell_own_url=False) as baton,
        browser_session(baton.url) as http,
    ):
        told = baton.sandbox.base_url
        sms = Pane(http, baton.url, "twilio")
        await sms.say("hi")  # signed against the learned URL, checked against it too
        greeting = await sms.bot_says()
        learned = baton.sandbox.base_url
    assert told is None
    assert learned == baton.url
    assert greeting["text"].startswith(GREETING)


# --- the webhooks are real ----------------------------------------------------------------------


async def test_forged_webhooks_are_refused_while_the_sandbox_is_on(database_url: str) -> None:
    async with sandbox_baton(database_url) as baton:
        sandbox = baton.sandbox
        telegram_view = sandbox.view("telegram")
        assert isinstance(telegram_view, TelegramView)
        twilio_view, slack_view = sandbox.view("twilio"), sandbox.view("slack")
        assert isinstance(twilio_view, TwilioView)
        assert isinstance(slack_view, SlackView)
        telegram = await telegram_view.telegram.customer_text(
            baton.url + TELEGRAM_PATH, "forged-secret", user_id=4242, text="hi"
        )
        telegram_bare = await telegram_view.telegram.customer_text(
            baton.url + TELEGRAM_PATH, "", user_id=4242, text="hi"
        )
        sms = await twilio_view.twilio.customer_sms(
            baton.url + SMS_PATH,
            baton.url + SMS_PATH,
            auth_token="forged-auth-token",
            from_="+12025550123",
            to=BOT_NUMBER,
            body="hi",
        )
        slack = await slack_view.slack.customer_message(
            baton.url + EVENTS_PATH, "forged-signing-secret", user="U0FORGED1", text="hi"
        )
        # The same webhooks signed with the sandbox's secrets are accepted.
        genuine = await telegram_view.telegram.customer_text(
            baton.url + TELEGRAM_PATH, telegram_view.secret, user_id=4242, text="hi"
        )
        stored = await baton.store.count("inbox")
    assert (telegram.status, telegram_bare.status, sms.status, slack.status) == (
        401,
        401,
        403,
        401,
    )
    assert genuine.status == 200
    assert stored == 1


# --- the page and the API's edges ---------------------------------------------------------------


async def test_the_page_is_served_with_a_strict_policy_and_a_session_cookie(
    sqlite_url: str,
) -> None:
    async with sandbox_baton(sqlite_url) as baton, aiohttp.ClientSession() as http:
        async with http.get(baton.url + "/sandbox") as page:
            html = await page.text()
            policy = page.headers["Content-Security-Policy"]
            cookie = page.cookies["baton_sandbox"]
        async with http.get(baton.url + "/sandbox/sandbox.js") as script:
            script_type = script.content_type
        async with http.get(baton.url + "/sandbox/sandbox.css") as style:
            style_type = style.content_type
        async with http.get(baton.url + "/sandbox/api/telegram/messages") as anonymous:
            anonymous_status = anonymous.status
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/sandbox"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts == [(' src="/sandbox/sandbox.js" defer', "")]  # no inline script
    assert " style=" not in html
    assert (script_type, style_type) == ("application/javascript", "text/css")
    assert anonymous_status == 401
    source = resources.files("bot.static").joinpath("sandbox.js").read_text()
    assert "innerHTML" not in source
    assert "textContent" in source


async def test_bad_requests_to_the_api_are_clear_4xx(sqlite_url: str) -> None:
    async with sandbox_baton(sqlite_url) as baton, browser_session(baton.url) as http:
        api = baton.url + "/sandbox/api/telegram/messages"
        async with http.post(api, data="hi", headers={"Content-Type": "text/plain"}) as r:
            plain = r.status
        async with http.post(api, json=["hi"]) as r:
            not_object = r.status
        async with http.post(api, json={"text": " "}) as r:
            blank = r.status
        async with http.post(api, json={"text": 42}) as r:
            not_text = r.status
        async with http.get(api, params={"after": "soon"}) as r:
            bad_cursor = r.status
        async with http.post(baton.url + "/sandbox/api/fax/messages", json={"text": "hi"}) as r:
            unknown_channel = r.status
    assert (plain, not_object, blank, not_text, bad_cursor, unknown_channel) == (
        415,
        400,
        400,
        400,
        400,
        404,
    )


# --- on demand, next to real channels -----------------------------------------------------------


async def test_a_channel_with_real_credentials_stays_real_and_the_sandbox_covers_the_others(
    sqlite_url: str,
) -> None:
    token, secret = "654321:REAL-token", "real-secret"
    telegram = TelegramEmulator(token)  # stands in for api.telegram.org
    async with telegram.run() as api:
        real: dict[str, Any] = {
            "telegram_token": token,
            "telegram_secret": secret,
            "telegram_api_base": api,
        }
        assert not sandbox_wanted(Settings(database_url=sqlite_url, **{**NO_CREDENTIALS, **real}))
        async with (
            sandbox_baton(sqlite_url, sandbox=True, **real) as baton,
            browser_session(baton.url) as http,
        ):
            async with http.get(baton.url + "/sandbox/api/session") as response:
                panes = (await response.json())["channels"]
            refused = await Pane(http, baton.url, "telegram").post({"text": "hi"}, status=404)
            sms = Pane(http, baton.url, "twilio")
            await sms.say("hi")
            greeting = await sms.bot_says()
            real_adapter = baton.app[ADAPTERS]["telegram"]
            real_hook = await telegram.customer_text(
                baton.url + TELEGRAM_PATH, secret, user_id=77, text="hi"
            )
            real_reply = await telegram.next_call("sendMessage")
    assert baton.sandbox.channels == ("twilio", "slack", "whatsapp")
    assert panes["telegram"] == {"on": False, "called": "Telegram"}
    assert panes["twilio"]["on"] is True
    assert panes["slack"]["on"] is True
    assert "real credentials" in refused["text"]
    assert greeting["text"].startswith(GREETING)
    assert real_adapter not in baton.sandbox.adapters
    assert real_hook.status == 200
    assert (real_reply.recipient, real_reply.text) == ("77", GREETING)


def test_sandbox_mode_follows_baton_sandbox_and_the_credentials() -> None:
    def settings(**values: Any) -> Settings:
        return Settings(database_url="sqlite+aiosqlite:///x.db", **{**NO_CREDENTIALS, **values})

    slack = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    assert sandbox_wanted(settings()) is True
    assert sandbox_wanted(settings(sandbox=False)) is False
    assert sandbox_wanted(settings(**slack)) is False
    assert sandbox_wanted(settings(sandbox=True, **slack)) is True
    assert local_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert local_url("::", 8080) == "http://[::1]:8080"
    assert local_url("localhost", 9000) == "http://localhost:9000"
    assert local_url("127.0.0.1", 0) is None
    url = "http://127.0.0.1:8080"
    assert banner(settings(), url) == (
        "Sandbox: open http://127.0.0.1:8080/sandbox to be the customer on Telegram, SMS, "
        "Slack and WhatsApp (local platform emulators, no credentials needed)"
    )
    assert "customer on Telegram, SMS and WhatsApp " in banner(
        settings(sandbox=True, **slack), url
    )


async def test_baton_run_builds_the_sandbox_and_prints_its_url(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot import cli

    started: list[Any] = []

    def run_app(app: Any, **kw: Any) -> None:
        started.append((app, kw))
        kw["print"]("serving")  # aiohttp calls it once the server is up: the banner

    monkeypatch.setattr(web, "run_app", run_app)
    sock = loopback_socket()
    port = sock.getsockname()[1]
    settings = Settings(database_url=sqlite_url, **{**NO_CREDENTIALS, **FAST})
    assert cli._run(settings, None, "127.0.0.1", port) == 0
    (build, options), *_ = started
    app = await build
    async with serving(app, sock), browser_session(f"http://127.0.0.1:{port}") as http:
        pane = Pane(http, f"http://127.0.0.1:{port}", "slack")
        await pane.say("hi")
        greeting = await pane.bot_says()
        own_url = app[SANDBOX].base_url
    printed = capsys.readouterr().out
    assert (options["host"], options["port"]) == ("127.0.0.1", port)
    assert f"http://127.0.0.1:{port}/chat" in printed
    assert f"Sandbox: open http://127.0.0.1:{port}/sandbox" in printed
    assert own_url == f"http://127.0.0.1:{port}"
    assert greeting["text"] == GREETING


# --- one customer on all three ----------------------------------------------------------------


async def test_one_customer_on_all_three_links_the_panes_with_real_codes(
    database_url: str,
) -> None:
    async with sandbox_baton(database_url) as baton, browser_session(baton.url) as http:
        panes = {c: Pane(http, baton.url, c) for c in ("telegram", "twilio", "slack", "whatsapp")}
        async with http.post(f"{baton.url}/sandbox/api/link", json={}) as response:
            assert response.status == 200, await response.text()
            result = await response.json()
        shown = {c: await pane.messages(wait=0) for c, pane in panes.items()}
        customer = customer_of(http)
        owners = [
            await baton.store.identity("telegram", customer.ids["telegram"]),
            await baton.store.identity("twilio", customer.ids["twilio"]),
            await baton.store.identity("slack", f"TSANDBOX1:{customer.ids['slack']}"),
            await baton.store.identity("whatsapp", customer.ids["whatsapp"]),
        ]

        # The next message on SMS goes on with the conversation begun on Telegram.
        await panes["telegram"].say("where is my order")
        assert (await panes["telegram"].bot_says())["text"] == "What's your name?"
        await panes["twilio"].say("Ada")
        heard = [(await panes["twilio"].bot_says())["text"] for _ in range(2)]
    assert result == {
        "ok": True,
        "status": "Telegram, SMS, Slack and WhatsApp are one customer now.",
        "linked": ["telegram", "twilio", "slack", "whatsapp"],
    }
    # Every step went through the panes, as typed: "link" and its code, the code and "Linked!".
    said = [(m["from"], m["text"]) for m in shown["telegram"]]
    assert [who for who, _ in said] == ["customer", "bot"] * 3  # a code for each other pane
    assert said[0][1] == said[2][1] == said[4][1] == "link"
    assert said[1][1].startswith("Your linking code is ")
    for channel in ("twilio", "slack", "whatsapp"):
        texts = [m["text"] for m in shown[channel] if m["from"] == "bot"]
        assert texts == ["Linked! This chat and your Telegram chat are one conversation now."]
    # One customer behind the four identities.
    assert len({found[1] if found else None for found in owners}) == 1
    assert None not in owners
    assert "Thanks, Ada. What's your order number?" in heard


async def test_linking_again_says_they_are_one_customer(sqlite_url: str) -> None:
    async with sandbox_baton(sqlite_url) as baton, browser_session(baton.url) as http:
        for _ in range(2):
            async with http.post(f"{baton.url}/sandbox/api/link", json={}) as response:
                assert response.status == 200, await response.text()
                result = await response.json()
    assert result["status"] == "Telegram, SMS, Slack and WhatsApp are one customer now."


async def test_linking_needs_a_session(sqlite_url: str) -> None:
    async with (
        sandbox_baton(sqlite_url) as baton,
        aiohttp.ClientSession() as http,
        http.post(f"{baton.url}/sandbox/api/link", json={}) as response,
    ):
        assert response.status == 401
