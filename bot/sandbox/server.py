"""The sandbox server: the emulators on loopback sockets, the adapters pointed at them, and the
page and JSON API the customer uses (`/sandbox`, `/sandbox/api/...`)."""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import AsyncIterator, Collection
from importlib import resources
from typing import Any, Final

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from aiohttp.typedefs import Handler, Middleware

from adapters.base import Adapter
from adapters.body import read_json
from adapters.emulators import Button, CustomerView, Emulator, WebhookResult
from adapters.registry import channel_name, emulated
from bot.app import create_app
from bot.channels import channel_adapters
from bot.sandbox.customer import Customer, customer_view
from bot.sandbox.link import link_panes
from bot.sandbox.pane import Pane
from bot.settings import Settings
from dialogs import App

__all__ = [
    "BOT_NUMBER",
    "CHANNELS",
    "CUSTOMER_NAME",
    "SANDBOX",
    "Sandbox",
    "banner",
    "build_app",
    "local_url",
]

CHANNELS: Final = emulated()
"""The platform channels the sandbox can emulate, in the page's order (from the registry)."""

BOT_NUMBER: Final = "+15005550006"
"""The sandbox's own SMS number (Twilio's test "from" number)."""
CUSTOMER_NAME: Final = "Alex"

_COOKIE = "baton_sandbox"
_COOKIE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_TEXT = 4096
_WAIT = 25.0  # longest long poll, seconds
_STATIC = {
    "sandbox.js": "application/javascript",
    "sandbox.css": "text/css",
}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class Sandbox:
    """The emulators, the adapters pointed at them, and the customer-side page and API.

    Args:
        channels: The channels to emulate (those without real credentials); every emulated
            channel of the registry by default.
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
        self._views = {name: customer_view(name) for name in self.channels}
        self._sockets = {name: _loopback_socket() for name in self.channels}
        self._cursors = dict.fromkeys(self.channels, 0)
        self.adapters: list[Adapter] = []
        """The sandbox's channel adapters, for `create_app`."""
        for name, view in self._views.items():
            emulator = view.emulator
            emulator.base_url = f"http://127.0.0.1:{self._sockets[name].getsockname()[1]}"
            emulator.app.middlewares.append(self._watcher(name))
            self.adapters.append(view.adapter(emulator.base_url, self.base_url))
        self._has_buttons = {a.channel: a.limits.buttons for a in self.adapters}
        self._panes: dict[tuple[str, str], Pane] = {}
        self._http: ClientSession | None = None
        self._closing = False

    def emulator(self, channel: str) -> Emulator:
        """The emulator playing `channel` (KeyError when the channel is not in the sandbox)."""
        return self._views[channel].emulator

    def view(self, channel: str) -> CustomerView:
        """The customer's side of `channel`: its credentials, emulator and webhooks."""
        return self._views[channel]

    def install(self, app: web.Application) -> None:
        """Add the page and API routes to `app`, and run the emulators while it runs.

        Call it after `create_app`: the emulators must answer before the adapters start, so their
        cleanup context goes first.
        """
        app[SANDBOX] = self
        app.router.add_get("/sandbox", self._page)
        app.router.add_get("/sandbox/{name:sandbox\\.(?:js|css)}", self._static)
        app.router.add_get("/sandbox/api/session", self._session)
        app.router.add_post("/sandbox/api/link", self._link)
        names = "|".join(re.escape(name) for name in CHANNELS)
        path = f"/sandbox/api/{{channel:{names}}}/messages"
        app.router.add_post(path, self._post)
        app.router.add_get(path, self._poll)
        app.cleanup_ctx.insert(0, self._emulators_running)
        app.on_shutdown.append(self._on_shutdown)

    # --- lifecycle ---------------------------------------------------------------------------

    async def _emulators_running(self, app: web.Application) -> AsyncIterator[None]:
        runners: list[web.AppRunner] = []
        self._http = ClientSession(timeout=ClientTimeout(total=30))
        try:
            for name, view in self._views.items():
                runner = web.AppRunner(view.emulator.app, access_log=None)
                await runner.setup()
                runners.append(runner)
                await web.SockSite(runner, self._sockets[name]).start()
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
        view = self._views[channel]
        calls = view.emulator.calls()
        start = self._cursors[channel]
        if start > len(calls):  # the record was cleared
            start = 0
        self._cursors[channel] = len(calls)
        for call in calls[start:]:
            shown = view.shown(call)
            if shown is not None and call.recipient is not None:
                self._pane(channel, call.recipient).add(
                    "bot", shown.text, buttons=shown.buttons, media=shown.media, ref=shown.message
                )

    def _pane(self, channel: str, recipient: str) -> Pane:
        pane = self._panes.get((channel, recipient))
        if pane is None:
            pane = self._panes[channel, recipient] = Pane()
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
        customer = self._customer(request)
        panes: dict[str, Any] = {}
        for name in CHANNELS:
            view = self._views.get(name)
            if view is None:
                panes[name] = {"on": False, "called": channel_name(name)}
                continue
            you, bot = view.describe(customer.ids[name], CUSTOMER_NAME)
            panes[name] = {"on": True, "you": you, "bot": bot, "called": channel_name(name)}
        return web.json_response({"channels": panes}, headers={"Cache-Control": "no-store"})

    async def _post(self, request: web.Request) -> web.StreamResponse:
        channel = self._sandboxed(request)
        customer = self._customer(request)
        data = await read_json(request)
        text, choice, ref = data.get("text"), data.get("choice"), data.get("ref")
        if not all(isinstance(v, str | None) for v in (text, choice, ref)):
            raise web.HTTPBadRequest(text="text, choice and ref must be strings")
        view = self._views[channel]
        pane = self._pane(channel, customer.recipient(channel))
        base = self._own_url(request)
        button: Button | None = None
        if text is not None:
            if not text.strip() or len(text) > _MAX_TEXT:
                raise web.HTTPBadRequest(text=f"send 1-{_MAX_TEXT} characters")
            pane.add("customer", text)
        elif choice:
            if not self._has_buttons[channel]:
                raise web.HTTPBadRequest(
                    text=f"{channel_name(channel)} has no buttons: type the number of a choice"
                )
            button = pane.button(choice, ref)
            if button is None:
                raise web.HTTPConflict(text="no button sends that choice here")
            pane.add("customer", button.label, kind="press")
        elif data.get("contact") is True:
            button = pane.contact_button()
            if button is None:
                raise web.HTTPConflict(text="no button shares a phone number here")
            pane.add("customer", customer.phone, kind="contact")
        else:
            raise web.HTTPBadRequest(text='send {"text": ...} or {"choice": ..., "ref": ...}')
        result = await self._deliver(view, customer, base, text=text, button=button)
        ok = 200 <= result.status < 300
        if not ok:
            shown = result.body.strip()[:200] or "no body"
            pane.add("note", f"Baton answered the webhook with HTTP {result.status}: {shown}")
        return web.json_response(
            {
                "ok": ok,
                "status": result.status,
                "webhook": view.webhook(press=button is not None),
                "signed_with": view.signed_with,
            },
            status=200 if ok else 502,
        )

    async def _link(self, request: web.Request) -> web.StreamResponse:
        """Make the panes one customer: "link" on the first, its code sent from the others."""
        who, base = self._customer(request), self._own_url(request)

        async def say(channel: str, text: str) -> WebhookResult:
            self._pane(channel, who.recipient(channel)).add("customer", text)
            return await self._deliver(self._views[channel], who, base, text=text)

        done = await link_panes(self.channels, lambda c: self._pane(c, who.recipient(c)), say)
        body = {"ok": done.ok, "status": done.status, "linked": list(done.linked)}
        return web.json_response(body, status=200 if done.ok else 502)

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        channel = self._sandboxed(request)
        customer = self._customer(request)
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
        name = request.match_info["channel"]
        if name not in self.channels:
            raise web.HTTPNotFound(
                text=f"{channel_name(name)} has real credentials here, so it is not in the sandbox"
            )
        return name

    def _customer(self, request: web.Request) -> Customer:
        token = request.cookies.get(_COOKIE, "")
        if not _COOKIE_RE.fullmatch(token):
            raise web.HTTPUnauthorized(text="open /sandbox first to get a sandbox session")
        return Customer.for_session(token, self._views)

    def _own_url(self, request: web.Request) -> str:
        if self.base_url is None:
            where = request.transport.get_extra_info("sockname") if request.transport else None
            if not where:
                raise web.HTTPServiceUnavailable(text="cannot tell this server's own address")
            self.base_url = f"http://{_url_host(str(where[0]))}:{where[1]}"
            for adapter in self.adapters:
                # Adapters that check signatures against their public URL read it per request.
                if getattr(adapter, "public_url", "") is None:
                    adapter.public_url = self.base_url  # type: ignore[attr-defined]
        return self.base_url

    async def _deliver(
        self,
        view: CustomerView,
        customer: Customer,
        base: str,
        *,
        text: str | None = None,
        button: Button | None = None,
    ) -> WebhookResult:
        """POST the customer's message or button press to Baton, as the platform does."""
        http = self._http
        if http is None:
            raise web.HTTPServiceUnavailable(text="the sandbox is not running")
        who = customer.ids[view.channel]
        try:
            if button is not None:
                return await view.press(
                    base, who, button, name=CUSTOMER_NAME, phone=customer.phone, session=http
                )
            return await view.say(base, who, text or "", name=CUSTOMER_NAME, session=http)
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
    emulated = [channel_name(c) for c in CHANNELS if c not in settings.channels_configured]
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


def _security_headers(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
