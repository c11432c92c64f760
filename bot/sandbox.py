"""The sandbox at /sandbox: play the customer on Telegram, SMS and Slack in one browser page.

`baton run` serves it when no platform credentials are set, and on demand with
BATON_SANDBOX=true (BATON_SANDBOX=false turns it off). Nothing on Baton's side is faked: the three
platform emulators (`adapters.emulators`) run in the same process on loopback ports, and the real
Telegram, Twilio and Slack adapters point at them with generated, well-formed credentials. A
message typed in a pane is POSTed by the emulator's customer helper to Baton's own webhook URL
over loopback HTTP, signed as the platform signs it (Telegram's secret header, Twilio's
X-Twilio-Signature over the public URL, Slack's v0 signature); the adapter verifies it, the engine
runs the flow, and the reply leaves through the official SDK to the emulator, which records it.
The pane long-polls those records (`GET /sandbox/api/{channel}/messages?after=N`).

Customers: the page gives each browser a random session cookie (`baton_sandbox`, HttpOnly,
SameSite=Strict), and the customer's identity on each channel is derived from it. So one browser
is one customer per pane (still the same after a restart, as the cookie stays), and two browsers
never share a conversation. The identities cannot belong to real people:

- Telegram: a user id from 4,000,000,000,000,000 up (real ids are far smaller);
- SMS: a North American number of the form +1 NXX 555-01XX, reserved for fiction;
- Slack: a user "USBX..." in the workspace "TSANDBOX1".

A channel that has real credentials stays real: the sandbox covers only the others, and its pane
says so. The emulators are not aiohttp sub-applications of Baton's app: the adapters call their
platform while Baton starts (getMe, auth.test), before Baton's socket accepts connections. So each
emulator listens on a loopback socket bound when the sandbox is built, and a cleanup context that
runs before Baton's own starts and stops them.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, Literal

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from aiohttp.typedefs import Handler, Middleware

from adapters.base import Adapter
from adapters.emulators import (
    Call,
    Emulator,
    SlackEmulator,
    TelegramEmulator,
    TwilioEmulator,
    WebhookResult,
    dm_channel,
)
from adapters.slack import EVENTS_PATH, INTERACTIVE_PATH, SlackAdapter
from adapters.telegram import PATH as TELEGRAM_PATH
from adapters.telegram import TelegramAdapter
from adapters.twilio import SMS_PATH, TwilioAdapter
from bot.app import create_app
from bot.channels import channel_adapters
from bot.settings import Settings
from dialogs import App

__all__ = ["CHANNELS", "SANDBOX", "Customer", "Sandbox", "banner", "build_app", "local_url"]

CHANNELS: Final = ("telegram", "twilio", "slack")
"""The platform channels the sandbox can emulate, in the page's order."""

BOT_NUMBER: Final = "+15005550006"
"""The sandbox's own SMS number (Twilio's test "from" number)."""
TEAM_ID: Final = "TSANDBOX1"
CUSTOMER_NAME: Final = "Alex"

_COOKIE = "baton_sandbox"
_COOKIE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_TEXT = 4096
_KEEP = 300  # entries kept per pane
_WAIT = 25.0  # longest long poll, seconds
_TELEGRAM_IDS = 4_000_000_000_000_000
_TELEGRAM_SENDS = {
    "sendMessage": None,
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAudio": "audio",
}
_SIGNED_WITH = {
    "telegram": "secret token",
    "twilio": "X-Twilio-Signature",
    "slack": "v0 signature",
}
_STATIC = {
    "sandbox.js": "application/javascript",
    "sandbox.css": "text/css",
}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Customer:
    """The sandbox customer of one browser session, on each channel."""

    telegram_id: int
    phone: str
    slack_user: str

    @classmethod
    def for_session(cls, token: str) -> Customer:
        """The customer of the session cookie `token` (the same token, the same customer)."""
        digest = hashlib.sha256(token.encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        area, line = 201 + number % 799, number // 799 % 100
        return cls(
            telegram_id=_TELEGRAM_IDS + int.from_bytes(digest[8:14], "big") % 10**14,
            phone=f"+1{area}55501{line:02d}",
            slack_user="USBX" + digest[14:18].hex().upper(),
        )

    def recipient(self, channel: str) -> str:
        """Where the bot's replies to this customer go on `channel`, as the emulator records."""
        if channel == "telegram":
            return str(self.telegram_id)
        if channel == "twilio":
            return self.phone
        return dm_channel(self.slack_user)


@dataclass(frozen=True, slots=True)
class _Button:
    label: str
    send: Mapping[str, Any]
    """The body the page POSTs when it is pressed."""
    action_id: str = ""
    block_id: str = ""


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    sender: Literal["customer", "bot", "note"]
    text: str
    kind: str = "text"
    buttons: tuple[_Button, ...] = ()
    media: tuple[str, ...] = ()
    ref: str = ""
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "from": self.sender,
            "kind": self.kind,
            "text": self.text,
            "buttons": [{"label": b.label, "send": dict(b.send)} for b in self.buttons],
            "media": list(self.media),
            "at": self.at,
        }


class _Pane:
    """One customer's conversation on one channel: what the pane shows, and its waiters."""

    def __init__(self) -> None:
        self._entries: deque[_Entry] = deque(maxlen=_KEEP)
        self._seq = 0
        self._changed = asyncio.Event()
        self.closed = False

    def add(
        self,
        sender: Literal["customer", "bot", "note"],
        text: str,
        *,
        kind: str = "text",
        buttons: Iterable[_Button] = (),
        media: Iterable[str] = (),
        ref: str = "",
    ) -> None:
        # Milliseconds, increasing across restarts too, so an open page's cursor stays valid.
        self._seq = max(self._seq + 1, int(time.time() * 1000))
        self._entries.append(
            _Entry(self._seq, sender, text, kind, tuple(buttons), tuple(media), ref)
        )
        self._wake()

    def after(self, seq: int) -> list[_Entry]:
        return [entry for entry in self._entries if entry.seq > seq]

    def button(self, choice: str, ref: str | None) -> _Button | None:
        """The newest bot button sending `choice` (on the message `ref`, when given)."""
        for entry in reversed(self._entries):
            if entry.sender != "bot" or (ref and entry.ref != ref):
                continue
            for button in entry.buttons:
                if button.send.get("choice") == choice:
                    return button
        return None

    async def wait(self, after: int, timeout: float) -> list[_Entry]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.after(after) and not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                break
        return self.after(after)

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class Sandbox:
    """The emulators, the adapters pointed at them, and the customer-side page and API.

    Args:
        channels: The channels to emulate (those without real credentials).
        base_url: Baton's own URL on this machine, e.g. "http://127.0.0.1:8080": webhooks are
            POSTed there, and Twilio signatures are made and checked against it. When None it is
            learned from the first sandbox API request (the address that request came in on).

    Example:
        >>> sandbox = Sandbox(base_url="http://127.0.0.1:8080")
        >>> app = await create_app(settings, dialogs_app, adapters=sandbox.adapters)
        >>> sandbox.install(app)
    """

    def __init__(
        self, channels: Collection[str] = CHANNELS, *, base_url: str | None = None
    ) -> None:
        self.channels = tuple(c for c in CHANNELS if c in channels)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.telegram_token = "123456:sandbox-" + secrets.token_urlsafe(18)
        self.telegram_secret = secrets.token_urlsafe(32)
        self.twilio_account_sid = "AC" + secrets.token_hex(16)
        self.twilio_auth_token = secrets.token_hex(16)
        self.slack_bot_token = "xoxb-sandbox-" + secrets.token_urlsafe(18)
        self.slack_signing_secret = secrets.token_hex(16)
        self.telegram = TelegramEmulator(
            self.telegram_token, first_name="Baton demo", username="baton_demo_bot"
        )
        self.twilio = TwilioEmulator(self.twilio_account_sid, self.twilio_auth_token)
        self.slack = SlackEmulator(self.slack_bot_token, team_id=TEAM_ID, team="Sandbox")
        every: dict[str, Emulator] = {
            "telegram": self.telegram,
            "twilio": self.twilio,
            "slack": self.slack,
        }
        self._emulators = {channel: every[channel] for channel in self.channels}
        self._sockets = {channel: _loopback_socket() for channel in self.channels}
        self._cursors = dict.fromkeys(self.channels, 0)
        for channel, emulator in self._emulators.items():
            port = self._sockets[channel].getsockname()[1]
            emulator.base_url = f"http://127.0.0.1:{port}"
            emulator.app.middlewares.append(self._watcher(channel))
        self.adapters: list[Adapter] = []
        """The sandbox's channel adapters, for `create_app`."""
        self._twilio_adapter: TwilioAdapter | None = None
        if "telegram" in self.channels:
            self.adapters.append(
                TelegramAdapter(
                    self.telegram_token,
                    secret=self.telegram_secret,
                    api_base=self.telegram.base_url,
                    public_url=self.base_url,
                )
            )
        if "twilio" in self.channels:
            self._twilio_adapter = TwilioAdapter(
                self.twilio_account_sid,
                self.twilio_auth_token,
                BOT_NUMBER,
                public_url=self.base_url,
                api_base=self.twilio.base_url,
            )
            self.adapters.append(self._twilio_adapter)
        if "slack" in self.channels:
            self.adapters.append(
                SlackAdapter(
                    self.slack_bot_token, self.slack_signing_secret, api_base=self.slack.base_url
                )
            )
        self._panes: dict[tuple[str, str], _Pane] = {}
        self._http: ClientSession | None = None
        self._closing = False

    def emulator(self, channel: str) -> Emulator:
        """The emulator playing `channel` (KeyError when the channel is not in the sandbox)."""
        return self._emulators[channel]

    def install(self, app: web.Application) -> None:
        """Add the page and API routes to `app`, and run the emulators while it runs.

        Call it after `create_app`: the emulators must answer before the adapters start, so their
        cleanup context goes first.
        """
        app[SANDBOX] = self
        app.router.add_get("/sandbox", self._page)
        app.router.add_get("/sandbox/{name:sandbox\\.(?:js|css)}", self._static)
        app.router.add_get("/sandbox/api/session", self._session)
        channel = "/sandbox/api/{channel:telegram|twilio|slack}/messages"
        app.router.add_post(channel, self._post)
        app.router.add_get(channel, self._poll)
        app.cleanup_ctx.insert(0, self._emulators_running)
        app.on_shutdown.append(self._on_shutdown)

    # --- lifecycle ---------------------------------------------------------------------------

    async def _emulators_running(self, app: web.Application) -> AsyncIterator[None]:
        runners: list[web.AppRunner] = []
        self._http = ClientSession(timeout=ClientTimeout(total=30))
        try:
            for channel, emulator in self._emulators.items():
                runner = web.AppRunner(emulator.app, access_log=None)
                await runner.setup()
                runners.append(runner)
                await web.SockSite(runner, self._sockets[channel]).start()
            yield
        finally:
            for runner in reversed(runners):
                await runner.cleanup()
            await self._http.close()
            for sock in self._sockets.values():
                sock.close()

    async def _on_shutdown(self, app: web.Application) -> None:
        # Open long polls answer now, so the server does not wait for them to time out.
        self._closing = True
        for pane in self._panes.values():
            pane.close()

    # --- the record of the bot's replies ------------------------------------------------------

    def _watcher(self, channel: str) -> Middleware:
        @web.middleware
        async def watch(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                return await handler(request)
            finally:
                self._collect(channel)

        return watch

    def _collect(self, channel: str) -> None:
        """Show each send the emulator recorded since the last look in its customer's pane."""
        calls = self._emulators[channel].calls()
        start = self._cursors[channel]
        if start > len(calls):  # the record was cleared
            start = 0
        self._cursors[channel] = len(calls)
        for call in calls[start:]:
            if call.ok and call.recipient is not None:
                self._show_reply(channel, call)

    def _show_reply(self, channel: str, call: Call) -> None:
        params = call.params
        buttons: list[_Button] = []
        media: list[str] = []
        ref = ""
        text = call.text or ""
        if channel == "telegram":
            if call.method not in _TELEGRAM_SENDS:
                return
            result = call.response.get("result") if isinstance(call.response, dict) else None
            ref = str(result.get("message_id", "")) if isinstance(result, dict) else ""
            kind = _TELEGRAM_SENDS[call.method]
            if kind is not None and isinstance(params.get(kind), str):
                media.append(f"{kind}: {params[kind]}")
            buttons = _telegram_buttons(params.get("reply_markup"), ref)
        elif channel == "twilio":
            if call.method != "messages.create":
                return
            urls = params.get("MediaUrl") or []
            media.extend(str(url) for url in urls)
        else:
            if call.method != "chat.postMessage":
                return
            ref = str(call.response.get("ts", "")) if isinstance(call.response, dict) else ""
            text = _slack_unescape(text)
            buttons = _slack_buttons(params.get("blocks"), ref)
        self._pane(channel, call.recipient or "").add(
            "bot", text, buttons=buttons, media=media, ref=ref
        )

    def _pane(self, channel: str, recipient: str) -> _Pane:
        pane = self._panes.get((channel, recipient))
        if pane is None:
            pane = self._panes[channel, recipient] = _Pane()
            pane.closed = self._closing
        return pane

    # --- the page ----------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        body = resources.files("bot.static").joinpath("sandbox.html").read_text()
        response = web.Response(text=body, content_type="text/html")
        _security_headers(response)
        response.headers["Cache-Control"] = "no-store"
        if not _COOKIE_RE.fullmatch(request.cookies.get(_COOKIE, "")):
            response.set_cookie(
                _COOKIE,
                secrets.token_urlsafe(24),
                httponly=True,
                samesite="Strict",
                max_age=365 * 86400,
                path="/sandbox",
            )
        return response

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = resources.files("bot.static").joinpath(name).read_text()
        response = web.Response(text=body, content_type=_STATIC[name])
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response

    # --- the customer's API ------------------------------------------------------------------

    async def _session(self, request: web.Request) -> web.StreamResponse:
        customer = _customer(request)
        panes: dict[str, Any] = {}
        for channel in CHANNELS:
            if channel not in self.channels:
                panes[channel] = {"on": False}
                continue
            you, bot = {
                "telegram": (f"{CUSTOMER_NAME} (user {customer.telegram_id})", "@baton_demo_bot"),
                "twilio": (customer.phone, BOT_NUMBER),
                "slack": (f"{CUSTOMER_NAME} ({customer.slack_user})", "Sandbox workspace"),
            }[channel]
            panes[channel] = {"on": True, "you": you, "bot": bot}
        return web.json_response({"channels": panes}, headers={"Cache-Control": "no-store"})

    async def _post(self, request: web.Request) -> web.StreamResponse:
        channel = self._sandboxed(request)
        customer = _customer(request)
        data = await _json_object(request)
        text, choice, ref = data.get("text"), data.get("choice"), data.get("ref")
        if not all(isinstance(v, str | None) for v in (text, choice, ref)):
            raise web.HTTPBadRequest(text="text, choice and ref must be strings")
        pane = self._pane(channel, customer.recipient(channel))
        base = self._own_url(request)
        if text is not None:
            if not text.strip() or len(text) > _MAX_TEXT:
                raise web.HTTPBadRequest(text=f"send 1-{_MAX_TEXT} characters")
            pane.add("customer", text)
            result = await self._deliver(channel, customer, base, text=text)
        elif choice:
            if channel == "twilio":
                raise web.HTTPBadRequest(text="SMS has no buttons: type the number of a choice")
            button = pane.button(choice, ref)
            if button is None:
                raise web.HTTPConflict(text="no button sends that choice here")
            pane.add("customer", button.label, kind="press")
            result = await self._deliver(channel, customer, base, button=button)
        elif data.get("contact") is True and channel == "telegram":
            pane.add("customer", customer.phone, kind="contact")
            result = await self._deliver(channel, customer, base, contact=True)
        else:
            raise web.HTTPBadRequest(text='send {"text": ...} or {"choice": ..., "ref": ...}')
        ok = 200 <= result.status < 300
        if not ok:
            shown = result.body.strip()[:200] or "no body"
            pane.add("note", f"Baton answered the webhook with HTTP {result.status}: {shown}")
        return web.json_response(
            {
                "ok": ok,
                "status": result.status,
                "webhook": _webhook_path(channel, button=choice is not None and text is None),
                "signed_with": _SIGNED_WITH[channel],
            },
            status=200 if ok else 502,
        )

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        channel = self._sandboxed(request)
        customer = _customer(request)
        try:
            after = int(request.query.get("after", "0"))
            wait = min(_WAIT, max(0.0, float(request.query.get("wait", str(_WAIT)))))
        except ValueError:
            raise web.HTTPBadRequest(text="after and wait must be numbers") from None
        pane = self._pane(channel, customer.recipient(channel))
        entries = await pane.wait(after, wait)
        return web.json_response(
            {"messages": [entry.to_json() for entry in entries]},
            headers={"Cache-Control": "no-store"},
        )

    def _sandboxed(self, request: web.Request) -> str:
        channel = request.match_info["channel"]
        if channel not in self.channels:
            raise web.HTTPNotFound(
                text=f"{channel} has real credentials here, so it is not in the sandbox"
            )
        return channel

    def _own_url(self, request: web.Request) -> str:
        if self.base_url is None:
            where = request.transport.get_extra_info("sockname") if request.transport else None
            if not where:
                raise web.HTTPServiceUnavailable(text="cannot tell this server's own address")
            self.base_url = f"http://{_url_host(str(where[0]))}:{where[1]}"
            if self._twilio_adapter is not None:
                self._twilio_adapter.public_url = self.base_url  # read per request
        return self.base_url

    async def _deliver(
        self,
        channel: str,
        customer: Customer,
        base: str,
        *,
        text: str | None = None,
        button: _Button | None = None,
        contact: bool = False,
    ) -> WebhookResult:
        """POST the customer's message or button press to Baton, as the platform does."""
        http = self._http
        if http is None:
            raise web.HTTPServiceUnavailable(text="the sandbox is not running")
        try:
            if channel == "telegram":
                url, user = base + TELEGRAM_PATH, customer.telegram_id
                if button is not None:
                    return await self.telegram.customer_press(
                        url,
                        self.telegram_secret,
                        user_id=user,
                        data=str(button.send["choice"]),
                        message_id=int(button.send["ref"]),
                        first_name=CUSTOMER_NAME,
                        session=http,
                    )
                if contact:
                    return await self.telegram.customer_contact(
                        url,
                        self.telegram_secret,
                        user_id=user,
                        phone=customer.phone,
                        first_name=CUSTOMER_NAME,
                        session=http,
                    )
                return await self.telegram.customer_text(
                    url,
                    self.telegram_secret,
                    user_id=user,
                    text=text or "",
                    first_name=CUSTOMER_NAME,
                    session=http,
                )
            if channel == "twilio":
                return await self.twilio.customer_sms(
                    base + SMS_PATH,
                    base + SMS_PATH,
                    from_=customer.phone,
                    to=BOT_NUMBER,
                    body=text or "",
                    session=http,
                )
            if button is not None:
                return await self.slack.customer_press(
                    base + INTERACTIVE_PATH,
                    self.slack_signing_secret,
                    user=customer.slack_user,
                    action_id=button.action_id,
                    value=str(button.send["choice"]),
                    message_ts=str(button.send["ref"]),
                    block_id=button.block_id,
                    session=http,
                )
            return await self.slack.customer_message(
                base + EVENTS_PATH,
                self.slack_signing_secret,
                user=customer.slack_user,
                text=text or "",
                session=http,
            )
        except (ClientError, TimeoutError) as exc:
            return WebhookResult(0, f"could not reach Baton at {base}: {exc!r}")


SANDBOX = web.AppKey("sandbox", Sandbox)
"""The running `Sandbox`, on the app (tests read its emulators)."""


async def build_app(
    settings: Settings, dialogs_app: App, *, base_url: str | None = None
) -> web.Application:
    """The app `baton run` serves in sandbox mode: real channels from the settings, the
    sandbox for the others.

    Args:
        settings: Baton's settings; channels with credentials stay real.
        dialogs_app: The bot.
        base_url: Baton's own URL on this machine (see `Sandbox`).
    """
    adapters = await channel_adapters(settings)
    live = {adapter.channel for adapter in adapters}
    sandbox = Sandbox([c for c in CHANNELS if c not in live], base_url=base_url)
    app = await create_app(settings, dialogs_app, adapters=[*adapters, *sandbox.adapters])
    sandbox.install(app)
    return app


def banner(settings: Settings, url: str) -> str:
    """The line `baton run` prints about the sandbox served at `url`."""
    names = {"telegram": "Telegram", "twilio": "SMS", "slack": "Slack"}
    emulated = [name for c, name in names.items() if c not in settings.channels_configured]
    if not emulated:
        return f"Sandbox: {url}/sandbox is on, but every channel has real credentials"
    which = ", ".join(emulated[:-1]) + " and " + emulated[-1] if emulated[1:] else emulated[0]
    return (
        f"Sandbox: open {url}/sandbox to be the customer on {which} "
        "(local platform emulators, no credentials needed)"
    )


def local_url(host: str, port: int) -> str | None:
    """The URL this machine reaches a server listening on `host`:`port` at; None for port 0."""
    if port == 0:
        return None
    return f"http://{_url_host(host)}:{port}"


# --- helpers ---------------------------------------------------------------------------------


def _url_host(host: str) -> str:
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _customer(request: web.Request) -> Customer:
    token = request.cookies.get(_COOKIE, "")
    if not _COOKIE_RE.fullmatch(token):
        raise web.HTTPUnauthorized(text="open /sandbox first to get a sandbox session")
    return Customer.for_session(token)


async def _json_object(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    try:
        data: Any = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body is not JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="send a JSON object")
    return data


def _webhook_path(channel: str, *, button: bool) -> str:
    if channel == "telegram":
        return TELEGRAM_PATH
    if channel == "twilio":
        return SMS_PATH
    return INTERACTIVE_PATH if button else EVENTS_PATH


def _telegram_buttons(markup: Any, ref: str) -> list[_Button]:
    if not isinstance(markup, dict):
        return []
    buttons: list[_Button] = []
    if isinstance(markup.get("inline_keyboard"), list) and ref:
        for row in markup["inline_keyboard"]:
            for button in row if isinstance(row, list) else ():
                if isinstance(button, dict) and isinstance(button.get("callback_data"), str):
                    send = {"choice": button["callback_data"], "ref": ref}
                    buttons.append(_Button(str(button.get("text", "")), send))
    elif isinstance(markup.get("keyboard"), list):
        for row in markup["keyboard"]:
            for button in row if isinstance(row, list) else ():
                if not isinstance(button, dict):
                    continue
                label = str(button.get("text", ""))
                sent = {"contact": True} if button.get("request_contact") else {"text": label}
                buttons.append(_Button(label, sent))
    return buttons


def _slack_buttons(blocks: Any, ref: str) -> list[_Button]:
    buttons: list[_Button] = []
    for block in blocks if isinstance(blocks, list) and ref else ():
        if not isinstance(block, dict) or block.get("type") != "actions":
            continue
        for element in block.get("elements") or ():
            if not isinstance(element, dict) or element.get("type") != "button":
                continue
            shown = element.get("text")
            label = shown.get("text", "") if isinstance(shown, dict) else ""
            value, action_id = element.get("value"), element.get("action_id")
            if isinstance(value, str) and isinstance(action_id, str):
                buttons.append(
                    _Button(
                        _slack_unescape(str(label)),
                        {"choice": value, "ref": ref},
                        action_id,
                        str(block.get("block_id", "")),
                    )
                )
    return buttons


def _slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _security_headers(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
