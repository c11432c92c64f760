"""The Twilio SMS/MMS channel, on the official twilio SDK.

Inbound SMS and status callbacks arrive as form-encoded webhooks signed with
`X-Twilio-Signature`; both are verified against the *configured* public URL (behind a proxy
`request.url` is not the URL Twilio signed) and refused when it is not configured. Replies leave
through `Client.messages.create_async`. SMS has no buttons: choices become numbered lines, and
long text is split into numbered parts of at most 1600 characters.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from typing import Any, ClassVar

import phonenumbers
from aiohttp import ClientError, ClientSession, TraceConfig, TraceRequestEndParams, web
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client

from adapters.base import (
    Address,
    DeliveryUpdate,
    Inbound,
    Limits,
    Media,
    Prompt,
    Rendered,
    Sent,
    Sink,
    choices_as_text,
    split_text,
)
from adapters.errors import AdapterError, BadRequest, RateLimited, SendError, Unreachable

__all__ = [
    "OPT_IN_WORDS",
    "OPT_OUT_WORDS",
    "TwilioAdapter",
    "control_word",
    "normalise_number",
    "parse_retry_after",
    "parse_sms",
    "parse_status",
]

log = logging.getLogger("baton.twilio")
_sdk_log = logging.getLogger("baton.twilio.sdk")
# The SDK logs every request at INFO (method, URL, headers); lower this logger's level to see it.
_sdk_log.setLevel(logging.WARNING)

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
"""Single-word messages Twilio treats as an opt-out (it answers them itself)."""
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
"""Single-word messages that opt a number back in."""
_OPT_OUT_TYPES = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}
_MAX_BODY = 1600  # Twilio's limit on one message's Body
_MAX_MEDIA = 10  # Twilio's limit of MediaUrl per message
_FORM = "application/x-www-form-urlencoded"
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_OPTED_OUT = 21610
_UNREACHABLE_CODES = frozenset({21211, 21614})  # invalid number; not a mobile number
_MAX_RETRY_AFTER = 3600.0
_PARTIAL_KEEP = 1000
_retry_after: ContextVar[float | None] = ContextVar("twilio_retry_after", default=None)


class TwilioAdapter:
    """SMS and MMS through Twilio.

    Args:
        account_sid: The account sid ("AC...").
        auth_token: The auth token: REST password and webhook signing key.
        from_number: Our Twilio number (E.164), the sender of replies.
        public_url: The https URL Twilio reaches this server at, e.g.
            "https://bot.example.com"; signatures are checked against it. Without it every
            webhook is refused (fail closed). Read per request, so it can be set after start.
        api_base: Where the Messages API lives; an emulator's URL in tests.
        status_callback: Ask Twilio for delivery receipts at `/webhooks/twilio/status`.

    Example:
        >>> TwilioAdapter("AC...", token, "+15005550006", public_url="https://bot.example.com")
    """

    channel: ClassVar[str] = "twilio"
    limits: ClassVar[Limits] = Limits(max_text=_MAX_BODY, max_choices=0, buttons=False)

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        public_url: str | None,
        api_base: str | None = None,
        status_callback: bool = True,
    ) -> None:
        if not account_sid or not auth_token or not from_number:
            raise ValueError("TwilioAdapter needs an account sid, an auth token and a number")
        self.account_sid = account_sid
        self.from_number = from_number
        self.public_url = public_url.rstrip("/") if public_url else None
        self.api_base = api_base.rstrip("/") if api_base else None
        self.status_callback = status_callback
        self._auth_token = auth_token
        self._validator = RequestValidator(auth_token)
        self._client: Any = None
        # Parts already sent of multi-part replies whose send failed half-way, so a retry by
        # the outbox does not send them twice; keyed by (recipient, bodies).
        self._partial: OrderedDict[tuple[str, tuple[str, ...]], list[str]] = OrderedDict()

    # --- webhooks --------------------------------------------------------------------------

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """`POST /webhooks/twilio/sms` (inbound) and `POST /webhooks/twilio/status`."""

        async def sms(request: web.Request) -> web.StreamResponse:
            form = await self._verified_form(request)
            message = parse_sms(form)
            try:
                await sink.receive([message])
            except BadRequest as exc:
                log.warning("twilio webhook %s refused: %s", request.path, exc)
                raise web.HTTPBadRequest(text=str(exc)) from None
            return web.Response(text=_EMPTY_TWIML, content_type="text/xml")

        async def status(request: web.Request) -> web.StreamResponse:
            form = await self._verified_form(request)
            await sink.delivery_status(parse_status(form))
            return web.Response(status=204)

        return [web.post(SMS_PATH, sms), web.post(STATUS_PATH, status)]

    async def _verified_form(self, request: web.Request) -> MultiDict[str]:
        """The form fields of a request proven to come from Twilio; raises an HTTP error."""
        if not self.public_url:
            log.error(
                "twilio webhook %s refused: BATON_PUBLIC_URL is required to verify "
                "Twilio signatures",
                request.path,
            )
            raise web.HTTPServiceUnavailable(
                text="BATON_PUBLIC_URL is required to verify Twilio signatures"
            )
        if request.content_type != _FORM:
            log.warning(
                "twilio webhook %s refused: content type %r", request.path, request.content_type
            )
            raise web.HTTPUnsupportedMediaType(text=f"send {_FORM}")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            log.warning("twilio webhook %s refused: no %s header", request.path, SIGNATURE_HEADER)
            raise web.HTTPForbidden(text="missing signature")
        try:
            posted = await request.post()
        except web.HTTPRequestEntityTooLarge:
            log.warning("twilio webhook %s refused: body over the size limit", request.path)
            raise
        except (UnicodeDecodeError, LookupError, ValueError):
            log.warning("twilio webhook %s refused: the body is not a form", request.path)
            raise web.HTTPBadRequest(text="the body is not a UTF-8 form") from None
        form: MultiDict[str] = MultiDict()
        for key, value in posted.items():
            if not isinstance(value, str):
                raise web.HTTPBadRequest(text="file fields are not accepted")
            form.add(key, value)
        url = self.public_url + request.raw_path
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if not self._validator.validate(url, form, signature, algorithm=algorithm):
            log.warning("twilio webhook %s refused: bad signature for %s", request.path, url)
            raise web.HTTPForbidden(text="bad signature")
        return form

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the SDK client and check the credentials against the account."""
        if not self.public_url:
            log.warning(
                "BATON_PUBLIC_URL is required to verify Twilio signatures: Twilio "
                "webhooks will be refused until it is set"
            )
        client = self._sdk()
        try:
            await client.api.v2010.accounts(self.account_sid).fetch_async()
        except (TwilioRestException, TwilioServiceException) as exc:
            if exc.status in (401, 403, 404):
                raise AdapterError(
                    f"Twilio refused account {self.account_sid} (HTTP {exc.status}): check the "
                    "account sid and auth token"
                ) from None
            log.warning("could not check the Twilio credentials: HTTP %s", exc.status)
        except (ClientError, TimeoutError, OSError) as exc:
            log.warning("could not reach Twilio to check the credentials: %r", exc)

    def _sdk(self) -> Any:
        # The SDK's aiohttp session must be made inside the running loop.
        if self._client is None:
            trace = TraceConfig()
            trace.on_request_end.append(_note_retry_after)
            client = Client(
                self.account_sid,
                self._auth_token,
                http_client=AsyncTwilioHttpClient(trace_configs=[trace], logger=_sdk_log),
            )
            if self.api_base:
                client.api.base_url = self.api_base
            self._client = client
        return self._client

    async def aclose(self) -> None:
        """Close the SDK's HTTP session."""
        client, self._client = self._client, None
        if client is not None:
            await client.http_client.close()

    # --- outbound --------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> Rendered:
        """Plain text with numbered choices, split into numbered parts of <= 1600 characters.

        Media go with the first part (at most 10 per message; more get parts of their own).
        Each part is {"body": str, "media_url": [str, ...]}.
        """
        text = prompt.text
        if prompt.choices:
            text = (
                f"{text}\n\n{choices_as_text(prompt.choices)}"
                if text
                else choices_as_text(prompt.choices)
            )
        bodies = _numbered_parts(text)
        urls = [m.url for m in prompt.media]
        parts: list[dict[str, Any]] = []
        for index, body in enumerate(bodies):
            media = urls[:_MAX_MEDIA] if index == 0 else []
            parts.append({"body": body, "media_url": media})
        for start in range(_MAX_MEDIA, len(urls), _MAX_MEDIA):
            parts.append({"body": "", "media_url": urls[start : start + _MAX_MEDIA]})
        return Rendered(tuple(parts))

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Send each part with `messages.create_async`; returns the message sids.

        Raises:
            Unreachable: 21610 (opted out, code "opted_out"), 21211/21614 (bad number).
            RateLimited: 429 / 20429, waiting Retry-After (1 s when absent).
            SendError: 5xx and network errors (retryable); other 4xx (permanent).
        """
        client = self._sdk()
        key = (to.identity, tuple(str(p.get("body", "")) for p in rendered.parts))
        sids = self._partial.pop(key, []) if len(rendered.parts) > 1 else []
        callback = (
            self.public_url + STATUS_PATH if self.status_callback and self.public_url else None
        )
        for part in rendered.parts[len(sids) :]:
            fields: dict[str, Any] = {"to": to.identity, "from_": self.from_number}
            if part.get("body"):
                fields["body"] = part["body"]
            if part.get("media_url"):
                fields["media_url"] = list(part["media_url"])
            if callback:
                fields["status_callback"] = callback
            _retry_after.set(None)
            try:
                message = await client.messages.create_async(**fields)
            except (TwilioRestException, TwilioServiceException) as exc:
                error = _send_error(exc, _retry_after.get())
                self._keep_partial(key, sids, error)
                raise error from None
            except (ClientError, TimeoutError, OSError) as exc:
                error = SendError(f"could not reach Twilio: {exc!r}", retryable=True)
                self._keep_partial(key, sids, error)
                raise error from None
            except asyncio.CancelledError:
                self._keep_partial(key, sids, SendError("cancelled", retryable=True))
                raise
            sids.append(str(message.sid))
        return Sent(tuple(sids))

    def _keep_partial(
        self, key: tuple[str, tuple[str, ...]], sids: list[str], error: SendError
    ) -> None:
        if sids and error.retryable:
            self._partial[key] = sids
            while len(self._partial) > _PARTIAL_KEEP:
                self._partial.popitem(last=False)


# --- parsing ---------------------------------------------------------------------------------


def control_word(body: str | None, opt_out_type: str | None = None) -> str | None:
    """The control an inbound SMS carries: "opt_out", "opt_in", "help" or None.

    `OptOutType` (Advanced Opt-Out) wins when present; otherwise a single-word message in
    `OPT_OUT_WORDS` or `OPT_IN_WORDS`, any case. HELP/INFO bodies are ordinary text.
    """
    if opt_out_type:
        found = _OPT_OUT_TYPES.get(opt_out_type.strip().upper())
        if found is not None:
            return found
    word = (body or "").strip().upper()
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None


def normalise_number(raw: str) -> str:
    """E.164 for a phone number; other senders (short codes, "whatsapp:+1...") keep a form
    replies can go back to."""
    value = raw.strip()
    prefix, colon, number = value.rpartition(":")
    try:
        parsed = phonenumbers.parse(number if colon else value, None)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return f"{prefix}:{e164}" if colon else e164


def parse_sms(form: MultiDict[str]) -> Inbound:
    """An inbound-SMS webhook's fields as an `Inbound`; raises `web.HTTPBadRequest`."""
    sid, sender = form.get("MessageSid", ""), form.get("From", "")
    if not sid or not sender.strip():
        raise web.HTTPBadRequest(text="MessageSid and From are required")
    body = form.get("Body", "")
    try:
        count = min(int(form.get("NumMedia", "0") or "0"), _MAX_MEDIA)
    except ValueError:
        raise web.HTTPBadRequest(text="NumMedia must be a number") from None
    media = []
    for index in range(max(0, count)):
        url = form.get(f"MediaUrl{index}")
        if url:
            mime = form.get(f"MediaContentType{index}") or None
            media.append(Media(_media_kind(mime), url, mime))
    raw = {
        k: form[k]
        for k in (
            "MessageSid",
            "AccountSid",
            "From",
            "To",
            "NumMedia",
            "NumSegments",
            "MessagingServiceSid",
            "OptOutType",
        )
        if k in form
    }
    return Inbound(
        channel="twilio",
        message_id=sid,
        identity=normalise_number(sender),
        text=body or None,
        media=tuple(media),
        control=control_word(body, form.get("OptOutType")),
        raw=raw,
    )


def parse_status(form: MultiDict[str]) -> DeliveryUpdate:
    """A status callback's fields as a `DeliveryUpdate`; raises `web.HTTPBadRequest`."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or len(sid) > 255 or not status or len(status) > 32:
        raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
    return DeliveryUpdate("twilio", sid, status, form.get("ErrorCode") or None)


def _media_kind(mime: str | None) -> str:
    major = (mime or "").partition("/")[0]
    return major if major in ("image", "audio", "video") else "document"


def _numbered_parts(text: str) -> list[str]:
    if len(text) <= _MAX_BODY:
        return [text]
    count = 9
    while True:  # the "(i/n) " prefix length depends on how many parts there are
        room = _MAX_BODY - len(f"({count}/{count}) ")
        chunks = split_text(text, room)
        if len(chunks) <= count:
            break
        count = count * 10 + 9
    return [f"({i}/{len(chunks)}) {chunk}" for i, chunk in enumerate(chunks, start=1)]


# --- errors ----------------------------------------------------------------------------------


def _send_error(
    exc: TwilioRestException | TwilioServiceException, retry_after: float | None
) -> SendError:
    status = int(exc.status or 0)
    code = exc.code if isinstance(exc.code, int) else None
    text = getattr(exc, "msg", None) or getattr(exc, "title", "") or "Twilio error"
    message = f"Twilio HTTP {status}" + (f" code {code}" if code else "") + f": {text}"
    if code == _OPTED_OUT:
        return Unreachable(message, code="opted_out")
    if status == 429 or code == 20429:
        return RateLimited(message, retry_after=1.0 if retry_after is None else retry_after)
    if status == 503 and retry_after is not None:  # "not processed, come back later"
        return RateLimited(message, retry_after=retry_after)
    if status >= 500:
        return SendError(message, retryable=True, code=str(code or status))
    if code in _UNREACHABLE_CODES:
        return Unreachable(message, code=str(code))
    return SendError(message, retryable=False, code=str(code or status))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped at an hour."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return max(0.0, min(seconds, _MAX_RETRY_AFTER))


async def _note_retry_after(
    session: ClientSession, context: SimpleNamespace, params: TraceRequestEndParams
) -> None:
    # TwilioRestException drops the response headers; keep Retry-After for this task's send.
    if params.response.status in (429, 503):
        _retry_after.set(parse_retry_after(params.response.headers.get("Retry-After")))
