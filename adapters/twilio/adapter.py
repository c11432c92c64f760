"""The Twilio adapter: lifecycle, the signed webhook routes and sending, on the twilio SDK.

Inbound SMS and status callbacks arrive as form-encoded webhooks signed with
`X-Twilio-Signature`; both are verified against the *configured* public URL (behind a proxy
`request.url` is not the URL Twilio signed) and refused when it is not configured. Replies leave
through `Client.messages.create_async`. Parsing is in `parse.py`, rendering (numbered choices,
numbered parts) in `render.py`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from typing import Any, ClassVar

from aiohttp import (
    ClientError,
    ClientSession,
    ClientTimeout,
    TraceConfig,
    TraceRequestEndParams,
    web,
)
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
    Fetched,
    Limits,
    Media,
    Prompt,
    Rendered,
    Sent,
    Sink,
)
from adapters.errors import AdapterError, BadRequest, RateLimited, SendError, Unreachable
from adapters.fetching import download
from adapters.twilio.parse import parse_sms, parse_status
from adapters.twilio.render import MAX_BODY, render_prompt
from dialogs.media import read_location

__all__ = ["SMS_PATH", "STATUS_PATH", "TwilioAdapter", "parse_retry_after", "send_error"]

log = logging.getLogger("baton.twilio")
_sdk_log = logging.getLogger("baton.twilio.sdk")
# The SDK logs every request at INFO (method, URL, headers); lower this logger's level to see it.
_sdk_log.setLevel(logging.WARNING)

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
_FORM = "application/x-www-form-urlencoded"
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_OPTED_OUT = 21610
_UNREACHABLE_CODES = frozenset({21211, 21614})  # invalid number; not a mobile number
_MAX_RETRY_AFTER = 3600.0
_PARTIAL_KEEP = 1000
_TWILIO_API = "https://api.twilio.com"
_MEDIA_TTL = 3600
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
    limits: ClassVar[Limits] = Limits(max_text=MAX_BODY, max_choices=0, buttons=False)
    media_path: ClassVar[str] = "/webhooks/twilio/media/"
    """Where Twilio fetches the files we send (signed, expiring URLs)."""
    mms_types: ClassVar[tuple[str, ...] | None] = ("image/",)
    """Kept files sent as MMS media; others go as a link in the text. None: all as media."""

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
        self._files: ClientSession | None = None
        # Parts already sent of multi-part replies whose send failed half-way, so a retry by
        # the outbox does not send them twice; keyed by (recipient, bodies).
        self._partial: OrderedDict[tuple[str, tuple[str, ...]], list[str]] = OrderedDict()

    # --- webhooks --------------------------------------------------------------------------

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """`POST /webhooks/twilio/sms` (inbound) and `POST /webhooks/twilio/status`."""

        async def sms(request: web.Request) -> web.StreamResponse:
            form = await self._verified_form(request)
            try:
                await sink.receive([parse_sms(form)])
            except BadRequest as exc:
                log.warning("twilio webhook %s refused: %s", request.path, exc)
                raise web.HTTPBadRequest(text=str(exc)) from None
            return web.Response(text=_EMPTY_TWIML, content_type="text/xml")

        async def status(request: web.Request) -> web.StreamResponse:
            form = await self._verified_form(request)
            try:
                update = parse_status(form)
            except BadRequest as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
            await sink.delivery_status(update)
            return web.Response(status=204)

        return [web.post(SMS_PATH, sms), web.post(STATUS_PATH, status), self._media_route()]

    # --- files we send -----------------------------------------------------------------------

    def _media_route(self) -> web.RouteDef:
        """`GET <media path>{token}`: a kept file, for Twilio to fetch while sending an MMS.

        The token is signed with the auth token and expires: only URLs this adapter handed to
        Twilio open, for an hour, and nothing else of the file store is reachable.
        """

        async def media(request: web.Request) -> web.StreamResponse:
            found = self._unsign(request.match_info["token"])
            if found is None:
                raise web.HTTPNotFound()
            location, mime = found
            try:
                data = await read_location(location)
            except (LookupError, OSError):
                raise web.HTTPNotFound() from None
            return web.Response(
                body=data,
                content_type=mime or "application/octet-stream",
                headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
            )

        return web.get(self.media_path + "{token}", media)

    def _sign(self, location: str, mime: str | None) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps([location, mime, int(time.time()) + _MEDIA_TTL]).encode()
        ).decode()
        mac = hmac.new(self._auth_token.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{mac}"

    def _unsign(self, token: str) -> tuple[str, str | None] | None:
        payload, _, mac = token.partition(".")
        want = hmac.new(self._auth_token.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, want):
            return None
        try:
            location, mime, expires = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError):
            return None
        if time.time() > expires:
            return None
        return str(location), mime

    def _carry(self, part: Mapping[str, Any]) -> tuple[str, list[str]]:
        """(body, media URLs) of `part`, with kept files as signed URLs Twilio fetches from
        this server; a file that is not a picture goes as a link in the text on SMS.

        Raises:
            SendError: A kept file and no BATON_PUBLIC_URL to give Twilio (permanent).
        """
        body = str(part.get("body") or "")
        kept: Mapping[str, Any] = part.get("kept") or {}
        urls: list[str] = []
        links: list[str] = []
        for url in part.get("media_url") or ():
            if url not in kept:
                urls.append(str(url))
                continue
            if not self.public_url:
                raise SendError(
                    f"{self.channel} cannot carry a file without BATON_PUBLIC_URL: Twilio "
                    "fetches attachments from this server",
                    retryable=False,
                    code="no_public_url",
                )
            mime, name = kept[url]
            signed = self.public_url + self.media_path + self._sign(str(url), mime)
            if self.mms_types is None or str(mime or "").startswith(self.mms_types):
                urls.append(signed)
            else:
                links.append(f"{name or 'File'}: {signed}")
        if links:
            body = "\n".join([body, *links]).strip()
        return body, urls

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
                http_client=self._http_client(trace),
            )
            if self.api_base:
                client.api.base_url = self.api_base
            self._client = client
        return self._client

    def _http_client(self, trace: TraceConfig) -> AsyncTwilioHttpClient:
        """The SDK's HTTP client; `trace` notes Retry-After (a subclass may add to it)."""
        return AsyncTwilioHttpClient(trace_configs=[trace], logger=_sdk_log)

    async def aclose(self) -> None:
        """Close the SDK's HTTP session."""
        client, self._client = self._client, None
        if client is not None:
            await client.http_client.close()
        files, self._files = self._files, None
        if files is not None:
            await files.close()

    # --- files -----------------------------------------------------------------------------

    async def fetch(self, media: Media, *, max_bytes: int) -> Fetched:
        """Download an inbound message's media URL with the account's credentials.

        Only a URL on the configured API host (api.twilio.com, or `api_base`) is fetched.

        Raises:
            FetchRefused: another host, over `max_bytes`, or Twilio refused.
        """
        if self._files is None:
            self._files = ClientSession(timeout=ClientTimeout(total=60))
        credentials = f"{self.account_sid}:{self._auth_token}".encode()
        return await download(
            self._files,
            media.url,
            base=self.api_base or _TWILIO_API,
            headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
            max_bytes=max_bytes,
        )

    # --- outbound --------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> Rendered:
        """Plain text with numbered choices, in parts of <= 1600 characters; see
        `render_prompt`. Pure."""
        return render_prompt(prompt)

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
            body, urls = self._carry(part)
            if body:
                fields["body"] = body
            if urls:
                fields["media_url"] = urls
            if callback:
                fields["status_callback"] = callback
            _retry_after.set(None)
            try:
                message = await client.messages.create_async(**fields)
            except (TwilioRestException, TwilioServiceException) as exc:
                error = send_error(exc, _retry_after.get())
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


# --- errors ----------------------------------------------------------------------------------


def send_error(
    exc: TwilioRestException | TwilioServiceException, retry_after: float | None
) -> SendError:
    """The adapter error for a Twilio API error (`retry_after`: its Retry-After, if any)."""
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
