"""The WhatsApp adapter: Twilio's WhatsApp sender, with its customer-service window.

Webhooks are Twilio's, signed as for SMS (`X-Twilio-Signature` over the configured public URL),
at `POST /webhooks/whatsapp` and `POST /webhooks/whatsapp/status`. Replies leave through
`Client.messages.create_async` from "whatsapp:<our number>" to "whatsapp:<customer>".

The window: WhatsApp accepts a free-form message only within 24 hours of the customer's last
message; after that only an approved template. The outbox gives `send` the customer's last
inbound time (`Address.last_inbound`, because `limits.reply_window` is set). Outside the window
the adapter sends the template configured for the message's purpose (ContentSid plus
ContentVariables {"1": the message's text}); with none configured the message is held: a
permanent `SendError` with code "outside_window" whose text says why, recorded on the outbox
row, never retried against the platform. Twilio's error 63016 (the platform saw the window
closed) is handled the same way, once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from aiohttp import ClientError, ClientTimeout, TraceConfig, web
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

from adapters.base import Address, Limits, Prompt, Rendered, Sent, Sink
from adapters.errors import BadRequest, SendError
from adapters.twilio import TwilioAdapter
from adapters.twilio.adapter import send_error
from adapters.whatsapp.parse import address_of, parse_message, parse_status_update
from adapters.whatsapp.render import LIST_MAX, MAX_BODY, render_prompt

__all__ = ["MESSAGE_PATH", "OUTSIDE_WINDOW", "STATUS_PATH", "WINDOW", "WhatsAppAdapter"]

MESSAGE_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
WINDOW = 24 * 3600.0
"""WhatsApp's customer-service window, in seconds."""
OUTSIDE_WINDOW = "outside_window"
"""`SendError.code` of a message held because the window is closed and no template fits."""
_WINDOW_CLOSED = 63016
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_CONTENT_KEEP = 500
_VARIABLE_MAX = 1024


class WhatsAppAdapter(TwilioAdapter):
    """WhatsApp through Twilio.

    Args:
        account_sid: The Twilio account sid ("AC...").
        auth_token: Its auth token (REST password, webhook signing key).
        from_number: Our WhatsApp sender, E.164 (with or without "whatsapp:").
        public_url: The https URL Twilio reaches this server at; signatures are checked
            against it, and every webhook is refused without it.
        api_base: Where Twilio's APIs live (Messages and Content); an emulator's URL in tests.
        templates: Purpose -> approved Content template sid, sent outside the window.
        window_hours: The customer-service window (24; lower keeps a margin).
        status_callback: Ask for delivery receipts at `/webhooks/whatsapp/status`.

    Example:
        >>> WhatsAppAdapter("AC...", token, "+14155238886", public_url="https://bot.example.com",
        ...                 templates={"reply": "HX..."})
    """

    channel: ClassVar[str] = "whatsapp"
    limits: ClassVar[Limits] = Limits(
        max_text=MAX_BODY, max_choices=LIST_MAX, buttons=True, reply_window=WINDOW
    )
    media_path: ClassVar[str] = "/webhooks/whatsapp/media/"
    mms_types: ClassVar[tuple[str, ...] | None] = None  # documents travel as media too

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        public_url: str | None,
        api_base: str | None = None,
        templates: Mapping[str, str] | None = None,
        window_hours: float = 24.0,
        status_callback: bool = True,
    ) -> None:
        number = from_number.strip()
        super().__init__(
            account_sid,
            auth_token,
            address_of(number),
            public_url=public_url,
            api_base=api_base,
            status_callback=status_callback,
        )
        if not 0 < window_hours <= WINDOW / 3600:
            raise ValueError("window_hours must be more than 0 and at most 24")
        self.templates = dict(templates or {})
        self.window = window_hours * 3600.0
        self.clock: Callable[[], float] = time.time
        """The time now; a test moves it to step outside the window."""
        self._contents: OrderedDict[str, str] = OrderedDict()

    # --- webhooks --------------------------------------------------------------------------

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """`POST /webhooks/whatsapp` (inbound) and `POST /webhooks/whatsapp/status`."""

        async def message(request: web.Request) -> web.StreamResponse:
            form = await self._verified_form(request)
            try:
                await sink.receive([parse_message(form)])
            except BadRequest as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
            return web.Response(text=_EMPTY_TWIML, content_type="text/xml")

        async def status(request: web.Request) -> web.StreamResponse:
            form = await self._verified_form(request)
            try:
                update = parse_status_update(form)
            except BadRequest as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
            await sink.delivery_status(update)
            return web.Response(status=204)

        return [
            web.post(MESSAGE_PATH, message),
            web.post(STATUS_PATH, status),
            self._media_route(),
        ]

    def _sdk(self) -> Any:
        client = super()._sdk()
        if self.api_base:
            client.content.base_url = self.api_base
        return client

    def _http_client(self, trace: TraceConfig) -> AsyncTwilioHttpClient:
        return _JsonHttpClient(trace_configs=[trace], logger=logging.getLogger("baton.twilio.sdk"))

    # --- outbound --------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> Rendered:
        """Quick replies, a list picker or numbered options; see `render_prompt`. Pure."""
        return render_prompt(prompt)

    def within_window(self, to: Address) -> bool:
        """Whether a free-form message to `to` is allowed now (unknown last message: no)."""
        return to.last_inbound is not None and self.clock() - to.last_inbound < self.window

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Send the parts inside the window, else the purpose's template (or hold it).

        Raises:
            SendError: code "outside_window" (permanent) when the message is held; the
                Twilio errors as on SMS otherwise (see `TwilioAdapter.send`).
        """
        if not rendered.parts:
            return Sent(())
        if not self.within_window(to):
            return await self._send_template(to, rendered)
        client = self._sdk()
        recipient = address_of(to.identity)
        key = (recipient, tuple(str(p.get("body", "")) for p in rendered.parts))
        sids = self._partial.pop(key, []) if len(rendered.parts) > 1 else []
        for part in rendered.parts[len(sids) :]:
            fields = self._fields(recipient)
            try:
                content = await self._content_sid(client, part)
                if content is not None:
                    fields["content_sid"] = content
                else:
                    body, urls = self._carry(part)
                    if body:
                        fields["body"] = body
                    if urls:
                        fields["media_url"] = urls
                message = await client.messages.create_async(**fields)
            except (TwilioRestException, TwilioServiceException) as exc:
                if exc.code == _WINDOW_CLOSED and not sids:
                    return await self._send_template(to, rendered)
                error = send_error(exc, None)
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

    def _fields(self, recipient: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"to": recipient, "from_": self.from_number}
        if self.status_callback and self.public_url:
            fields["status_callback"] = self.public_url + STATUS_PATH
        return fields

    async def _send_template(self, to: Address, rendered: Rendered) -> Sent:
        purpose = str(rendered.parts[0].get("purpose") or "reply")
        template = self.templates.get(purpose)
        if template is None:
            raise SendError(
                "held: outside WhatsApp's 24-hour customer-service window, and no approved "
                f"template is configured for the purpose {purpose!r} "
                '(BATON_WHATSAPP_TEMPLATES, e.g. {"' + purpose + '": "HX..."})',
                retryable=False,
                code=OUTSIDE_WINDOW,
            )
        text = "\n".join(str(p.get("body", "")) for p in rendered.parts if p.get("body"))
        fields = self._fields(address_of(to.identity))
        fields["content_sid"] = template
        # WhatsApp refuses an empty variable: a message of files alone says so in words.
        fields["content_variables"] = json.dumps({"1": text[:_VARIABLE_MAX] or "(a file)"})
        try:
            message = await self._sdk().messages.create_async(**fields)
        except (TwilioRestException, TwilioServiceException) as exc:
            if exc.code == _WINDOW_CLOSED:
                raise SendError(
                    f"held: Twilio refused the template {template} for {purpose!r} outside "
                    "the window (63016): is it approved for WhatsApp?",
                    retryable=False,
                    code=OUTSIDE_WINDOW,
                ) from None
            raise send_error(exc, None) from None
        except (ClientError, TimeoutError, OSError) as exc:
            raise SendError(f"could not reach Twilio: {exc!r}", retryable=True) from None
        return Sent((str(message.sid),))

    async def _content_sid(self, client: Any, part: Mapping[str, Any]) -> str | None:
        """The sid of the Content showing `part`'s buttons or list (made once, then kept)."""
        if part.get("quick_reply"):
            types: dict[str, Any] = {
                "twilio/quick-reply": {
                    "body": part["body"],
                    "actions": [{"id": v, "title": t} for v, t in part["quick_reply"]],
                }
            }
        elif part.get("list"):
            types = {
                "twilio/list-picker": {
                    "body": part["body"],
                    "button": "Choose",
                    "items": [{"id": v, "item": t} for v, t in part["list"]],
                }
            }
        else:
            return None
        key = json.dumps(types, sort_keys=True, ensure_ascii=False)
        sid = self._contents.get(key)
        if sid is None:
            # Imported here: the Content API's module is large, and a send process starts
            # faster without it until a prompt has buttons.
            from twilio.rest.content.v1.content import ContentList

            created = await client.content.v1.contents.create_async(
                ContentList.ContentCreateRequest(
                    {"friendly_name": "baton-choices", "language": "en", "types": types}
                )
            )
            sid = str(created.sid)
            self._contents[key] = sid
            while len(self._contents) > _CONTENT_KEEP:
                self._contents.popitem(last=False)
        return sid


class _JsonHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's async HTTP client, sending JSON bodies as JSON.

    twilio 9's `AsyncTwilioHttpClient` hands a JSON request's dict (Content API) to aiohttp as
    form data under an `application/json` header; the sync client sends JSON. This does as the
    sync client does, dropping the None fields the SDK's request objects fill in, and sets the
    Basic auth header itself (aiohttp 3.14 deprecates `auth=`).
    """

    async def request(  # noqa: PLR0917 - the SDK's signature
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        body: Any = data
        if headers and headers.get("Content-Type") == "application/json" and data:
            body = json.dumps(_without_none(data))
        sent = dict(headers or {})
        if auth is not None:  # by hand: aiohttp 3.14 deprecates BasicAuth
            sent["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        async with self.session.request(
            method.upper(),
            url,
            params=params,
            data=body,
            headers=sent,
            timeout=ClientTimeout(total=timeout) if timeout else None,
            allow_redirects=allow_redirects,
        ) as response:
            return Response(response.status, await response.text(), response.headers)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
