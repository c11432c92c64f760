"""An emulator of Twilio's Messages API and of Twilio's inbound-SMS and status webhooks.

Point the SDK at it with `client.api.base_url = base_url`
(async: `Client(sid, token, http_client=AsyncTwilioHttpClient())` and `create_async`).
The customer side (`customer_sms`) POSTs the full inbound field set, signed with
`RequestValidator(auth_token).compute_signature(public_url, params)`, and applies Twilio's
STOP/START keyword handling before forwarding, as Twilio does.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import urlencode

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from twilio.request_validator import RequestValidator

from adapters.emulators._recorder import Emulator, WebhookResult, post_webhook

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "START_WORDS",
    "STOP_WORDS",
    "StatusPost",
    "TwilioEmulator",
    "new_sid",
    "sms_params",
]

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "emulator-auth-token"
API_VERSION = "2010-04-01"
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
"""Single-word messages that opt a number out (Twilio default opt-out handling)."""
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
"""Single-word messages that opt a number back in."""
HELP_WORDS = frozenset({"HELP", "INFO"})
_COUNTRIES = (("+44", "GB"), ("+49", "DE"), ("+33", "FR"), ("+61", "AU"), ("+1", "US"))
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-style sid: a two-letter prefix and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def segments(body: str) -> int:
    """How many SMS segments `body` takes (GSM-7: 160/153 chars, else UCS-2: 70/67)."""
    single, multi = (160, 153) if set(body) <= _GSM7 else (70, 67)
    if len(body) <= single:
        return 1
    return -(-len(body) // multi)


def _country(number: str) -> str:
    return next((code for prefix, code in _COUNTRIES if number.startswith(prefix)), "US")


def sms_params(
    *,
    from_: str,
    to: str,
    body: str = "",
    media: Sequence[tuple[str, str]] = (),
    account_sid: str = DEFAULT_ACCOUNT_SID,
    message_sid: str | None = None,
    opt_out_type: str | None = None,
) -> dict[str, str]:
    """The form fields of an inbound SMS/MMS webhook, as Twilio POSTs them.

    Args:
        from_: The customer's number (E.164).
        to: Our Twilio number.
        body: The text.
        media: (url, content type) pairs; makes it an MMS (`MediaUrl0`, `MediaContentType0`, ...).
        account_sid: The account the number belongs to.
        message_sid: The message sid; a fresh SM/MM sid when None.
        opt_out_type: "STOP", "START" or "HELP" (Advanced Opt-Out only).

    Example:
        >>> params = sms_params(from_="+15551230001", to="+15005550006", body="hi")
    """
    sid = message_sid or new_sid("MM" if media else "SM")
    from_country, to_country = _country(from_), _country(to)
    params = {
        "ToCountry": to_country,
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": from_country,
        "To": to,
        "ToZip": "",
        "NumSegments": str(segments(body)),
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    if opt_out_type is not None:
        params["OptOutType"] = opt_out_type
    return params


def _keyword(body: str) -> str:
    return body.strip().upper()


@dataclass(frozen=True, slots=True)
class StatusPost:
    """One status callback the emulator POSTed."""

    url: str
    params: Mapping[str, str]
    status: int | None
    """What the callback URL answered; None when it could not be reached."""


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class TwilioEmulator(Emulator):
    """Twilio's REST API for Messages, answering like api.twilio.com.

    Args:
        account_sid: The account sid the SDK authenticates with.
        auth_token: The auth token (Basic auth password, and the webhook signing key).
        status_callbacks: POST signed "sent" then "delivered" callbacks to a send's
            StatusCallback URL.
        advanced_opt_out: Add `OptOutType` to inbound STOP/START/HELP messages.

    Example:
        >>> emu = TwilioEmulator()
        >>> client = Client(emu.account_sid, emu.auth_token,
        ...                 http_client=AsyncTwilioHttpClient())
        >>> client.api.base_url = base_url
    """

    channel: ClassVar[str] = "twilio"
    _fault_exempt: ClassVar[frozenset[str]] = frozenset({"accounts.fetch"})

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        status_callbacks: bool = False,
        advanced_opt_out: bool = False,
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.status_callbacks = status_callbacks
        self.advanced_opt_out = advanced_opt_out
        self.opted_out: set[str] = set()
        """Numbers that texted STOP: sends to them answer 400 / 21610."""
        self.messages: dict[str, dict[str, Any]] = {}
        """Message resources created, by sid (their status follows the status callbacks)."""
        self.status_posts: list[StatusPost] = []
        """Status callbacks POSTed, oldest first."""
        self.media: dict[str, tuple[bytes, str]] = {}
        """Media customers sent, by path: (bytes, content type), served with Basic auth."""
        self._validator = RequestValidator(auth_token)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: ClientSession | None = None

    def add_media(self, data: bytes, content_type: str) -> str:
        """Keep `data` as a customer's media; returns its URL on this emulator (running), as
        an inbound MMS's `MediaUrl0` carries it."""
        if self.base_url is None:
            raise RuntimeError("the emulator is not running: add media inside run()")
        path = (
            f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{new_sid('MM')}"
            f"/Media/{new_sid('ME')}"
        )
        self.media[path] = (data, content_type)
        return self.base_url + path

    def opt_out(self, number: str) -> None:
        """`number` opts out, as if it had texted STOP."""
        self.opted_out.add(number)

    def opt_in(self, number: str) -> None:
        """`number` opts back in, as if it had texted START."""
        self.opted_out.discard(number)

    # --- the API -------------------------------------------------------------------------

    def _setup(self, app: web.Application) -> None:
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(base + "/Messages.json", self._create_message)
        app.router.add_get(base + "/Messages/{sid}.json", self._fetch_message)
        app.router.add_get(base + ".json", self._fetch_account)
        app.router.add_get(base + "/Messages/{sid}/Media/{media}", self._fetch_media)
        app.on_cleanup.append(self._on_cleanup)

    async def _on_shutdown(self, app: web.Application) -> None:
        await super()._on_shutdown(app)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _authorized(self, request: web.Request) -> bool:
        # Decoded by hand: aiohttp 3.14 deprecates BasicAuth.
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (login, password) == (self.account_sid, self.auth_token)

    def _reply(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int,
        body: dict[str, Any],
        *,
        recipient: str | None = None,
        text: str | None = None,
    ) -> web.Response:
        self._record(method, params, status, body, recipient=recipient, text=text)
        return web.json_response(body, status=status)

    def _check(
        self, request: web.Request, method: str, params: Mapping[str, Any]
    ) -> web.Response | None:
        if not self._authorized(request):
            return self._reply(
                method, params, 401, _error(401, 20003, "Authentication Error - invalid username")
            )
        if request.match_info["account"] != self.account_sid:
            return self._reply(
                method, params, 404, _error(404, 20404, "The requested resource was not found")
            )
        return None

    def _fault_response(self, status: int, retry_after: int) -> tuple[web.Response, Any]:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        body = _error(status, 20000 + status, phrase)
        headers = {"Retry-After": str(retry_after)} if status == 429 else None
        return web.json_response(body, status=status, headers=headers), body

    async def _fetch_account(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = {"AccountSid": request.match_info["account"]}
        refused = self._check(request, "accounts.fetch", params)
        if refused is not None:
            return refused
        fault = self._take_fault("accounts.fetch")
        if fault is not None:
            return await self._apply_fault(fault, "accounts.fetch", params)
        now = formatdate(usegmt=True)
        return self._reply(
            "accounts.fetch",
            params,
            200,
            {
                "sid": self.account_sid,
                "friendly_name": "Emulator account",
                "status": "active",
                "type": "Full",
                "owner_account_sid": self.account_sid,
                "auth_token": self.auth_token,
                "date_created": now,
                "date_updated": now,
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json",
            },
        )

    async def _fetch_media(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = {"Path": request.path}
        if not self._authorized(request) or request.match_info["account"] != self.account_sid:
            self._record("media.fetch", params, 401, None)
            return web.json_response(_error(401, 20003, "Authenticate"), status=401)
        fault = self._take_fault("media.fetch")
        if fault is not None:
            return await self._apply_fault(fault, "media.fetch", params)
        found = self.media.get(request.path)
        if found is None:
            self._record("media.fetch", params, 404, None)
            return web.json_response(
                _error(404, 20404, "The requested resource was not found"), status=404
            )
        self._record("media.fetch", params, 200, None)
        return web.Response(body=found[0], content_type=found[1])

    async def _fetch_message(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = {"Sid": request.match_info["sid"]}
        refused = self._check(request, "messages.fetch", params)
        if refused is not None:
            return refused
        message = self.messages.get(request.match_info["sid"])
        if message is None:
            return self._reply(
                "messages.fetch",
                params,
                404,
                _error(404, 20404, "The requested resource was not found"),
            )
        return self._reply("messages.fetch", params, 200, message)

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        params: dict[str, Any] = {}
        for key in form:
            if key not in params:
                values = [str(v) for v in form.getall(key)]
                params[key] = values if key == "MediaUrl" else values[0]
        refused = self._check(request, "messages.create", params)
        if refused is not None:
            return refused
        fault = self._take_fault("messages.create")
        if fault is not None:
            return await self._apply_fault(fault, "messages.create", params)
        to, body, media = params.get("To"), params.get("Body", ""), params.get("MediaUrl", [])
        sender = params.get("From") or params.get("MessagingServiceSid")
        if not to:
            return self._reply(
                "messages.create",
                params,
                400,
                _error(400, 21604, "A 'To' phone number is required."),
            )
        if not sender:
            return self._reply(
                "messages.create",
                params,
                400,
                _error(400, 21603, "A 'From' phone number is required."),
            )
        if not body and not media and not params.get("ContentSid"):
            return self._reply(
                "messages.create", params, 400, _error(400, 21602, "Message body is required.")
            )
        limited = self._over_limit("messages.create", str(sender))  # per sending number
        if limited is not None:
            return await self._apply_fault(limited, "messages.create", params)
        refusal = self._refusal(to, params)
        if refusal is not None:
            status, code, text = refusal
            return self._reply("messages.create", params, status, _error(status, code, text))
        message = self._message_resource(params, to, body, media)
        self.messages[message["sid"]] = message
        callback = params.get("StatusCallback")
        if callback and self.status_callbacks:
            task = asyncio.get_running_loop().create_task(self._post_statuses(callback, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return self._reply(
            "messages.create", params, 201, message, recipient=to, text=self._text(params, body)
        )

    def _refusal(self, to: str, params: Mapping[str, Any]) -> tuple[int, int, str] | None:
        """(HTTP status, Twilio code, message) when a well-formed send is refused."""
        if to in self.opted_out:
            return 400, 21610, "Attempt to send to unsubscribed recipient"
        return None

    def _text(self, params: Mapping[str, Any], body: str) -> str:
        """The text a sent message shows (its Body; a subclass renders ContentSid sends)."""
        return body

    def _message_resource(
        self, params: Mapping[str, Any], to: str, body: str, media: Sequence[str]
    ) -> dict[str, Any]:
        sid = new_sid("MM" if media else "SM")
        now = formatdate(usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "to": to,
            "messaging_service_sid": params.get("MessagingServiceSid"),
            "num_media": str(len(media)),
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "uri": f"{uri}.json",
        }

    async def _post_statuses(self, url: str, message: dict[str, Any]) -> None:
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=15))
        for status in ("sent", "delivered"):
            message["status"] = status
            message["date_updated"] = formatdate(usegmt=True)
            params = {
                "SmsSid": message["sid"],
                "SmsStatus": status,
                "MessageStatus": status,
                "To": message["to"],
                "MessageSid": message["sid"],
                "AccountSid": self.account_sid,
                "From": message["from"] or "",
                "ApiVersion": API_VERSION,
            }
            signature = self._validator.compute_signature(url, params)
            answered: int | None
            try:
                async with self._session.post(
                    url, data=params, headers={"X-Twilio-Signature": signature}
                ) as rsp:
                    answered = rsp.status
            except (ClientError, TimeoutError):
                answered = None
            self.status_posts.append(StatusPost(url, params, answered))

    # --- the customer side ---------------------------------------------------------------

    async def deliver(
        self,
        webhook_url: str,
        public_url: str | None,
        auth_token: str | None,
        params: Mapping[str, str],
        *,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """Forward an inbound message as Twilio does: keywords first, then a signed POST.

        Args:
            webhook_url: Where to POST.
            public_url: The URL the server validates the signature against (its configured
                public URL); `webhook_url` when None.
            auth_token: The signing key; this emulator's auth token when None.
            params: The form fields, e.g. from `sms_params`.
            session: A client session to reuse.
        """
        fields = dict(params)
        word = _keyword(fields.get("Body", ""))
        number = fields.get("From", "")
        kind = None
        if word in STOP_WORDS:
            self.opted_out.add(number)
            kind = "STOP"
        elif word in START_WORDS:
            self.opted_out.discard(number)
            kind = "START"
        elif word in HELP_WORDS:
            kind = "HELP"
        if kind is not None and self.advanced_opt_out:
            fields.setdefault("OptOutType", kind)
        validator = self._validator if auth_token is None else RequestValidator(auth_token)
        signature = validator.compute_signature(public_url or webhook_url, fields)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "User-Agent": "TwilioProxy/1.1",
        }
        return await post_webhook(webhook_url, urlencode(fields), headers, session=session)

    async def customer_sms(
        self,
        webhook_url: str,
        public_url: str | None = None,
        auth_token: str | None = None,
        *,
        from_: str,
        to: str,
        body: str = "",
        media: Sequence[tuple[str, str]] = (),
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer texts our number; STOP/START also update `opted_out`.

        Args:
            webhook_url: The app's inbound-SMS webhook.
            public_url: The URL the app validates signatures against; `webhook_url` if None.
            auth_token: The signing key; this emulator's auth token when None.
            from_: The customer's number.
            to: Our Twilio number.
            body: The text.
            media: (url, content type) pairs for an MMS.
            session: A client session to reuse.
        """
        params = sms_params(
            from_=from_, to=to, body=body, media=media, account_sid=self.account_sid
        )
        return await self.deliver(webhook_url, public_url, auth_token, params, session=session)
