"""The Twilio emulator's WhatsApp side: WhatsApp senders, Content, and the 24-hour window.

`WhatsAppEmulator` is a `TwilioEmulator` (same Messages API, Basic auth, faults, opt-outs)
that also answers Twilio's Content API (`POST /v1/Content`, `GET /v1/Content/{sid}`) and keeps
each customer's customer-service window, as Twilio and WhatsApp do:

- a send to "whatsapp:+..." with a Body or media, or with the ContentSid of a Content that is
  not an approved template, more than `window` seconds after that customer's last message is
  refused with HTTP 400, code 63016 (Twilio reports 63016 on the status callback too; the
  emulator answers at once, so a test sees it where the adapter does);
- an approved template (`approve(...)`) is sent whenever; its text is its body with the
  ContentVariables filled in (`{{1}}`);
- `customer_message` POSTs a signed inbound WhatsApp webhook (quick-reply button, list item,
  location, media) and opens the window again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from typing import Any, ClassVar

from aiohttp import ClientSession, web

from adapters.emulators import TwilioEmulator, WebhookResult, new_sid, sms_params
from adapters.whatsapp.parse import PREFIX, address_of

__all__ = ["WINDOW_CLOSED", "WhatsAppEmulator"]

WINDOW_CLOSED = 63016
_WINDOW_TEXT = (
    "Failed to send freeform message because you are outside the allowed window. If you want "
    "to send messages outside a session window, you need to use a template."
)
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class WhatsAppEmulator(TwilioEmulator):
    """Twilio's Messages and Content APIs for a WhatsApp sender (see the module docstring).

    Args:
        account_sid: The account sid the SDK authenticates with.
        auth_token: The auth token (Basic auth password, webhook signing key).
        window: The customer-service window in seconds (24 hours).
    """

    channel: ClassVar[str] = "whatsapp"

    def __init__(self, account_sid: str, auth_token: str, *, window: float = 24 * 3600.0) -> None:
        super().__init__(account_sid, auth_token)
        self.window = window
        self.last_inbound: dict[str, float] = {}
        """"whatsapp:+..." -> when that customer last wrote (`time.time()`)."""
        self.contents: dict[str, dict[str, Any]] = {}
        """Content resources by sid: {"types": ..., "approved": bool, ...}."""

    def approve(self, sid: str, body: str) -> None:
        """An approved WhatsApp template `sid` whose text is `body` (with `{{1}}` variables)."""
        self.contents[sid] = {
            "sid": sid,
            "friendly_name": "approved template",
            "types": {"twilio/text": {"body": body}},
            "approved": True,
        }

    def close_window(self, number: str) -> None:
        """The window of `number` (E.164 or "whatsapp:+...") closes, as a day later."""
        self.last_inbound[address_of(number)] = time.time() - self.window - 1

    # --- the API -------------------------------------------------------------------------

    def _setup(self, app: web.Application) -> None:
        super()._setup(app)
        app.router.add_post("/v1/Content", self._create_content)
        app.router.add_get("/v1/Content/{sid}", self._fetch_content)

    async def _create_content(self, request: web.Request) -> web.StreamResponse:
        try:
            payload = await request.json()
        except (ValueError, UnicodeDecodeError):
            payload = None
        params: dict[str, Any] = payload if isinstance(payload, dict) else {}
        if not self._authorized(request):
            return self._content_reply(params, 401, {"code": 20003, "status": 401})
        types = params.get("types")
        if not isinstance(types, dict) or not types:
            return self._content_reply(
                params, 400, {"code": 20001, "message": "types is required", "status": 400}
            )
        sid = new_sid("HX")
        now = formatdate(usegmt=True)
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": params.get("friendly_name"),
            "language": params.get("language"),
            "variables": params.get("variables") or {},
            "types": types,
            "date_created": now,
            "date_updated": now,
            "url": f"https://content.twilio.com/v1/Content/{sid}",
            "links": {},
            "approved": False,
        }
        self.contents[sid] = resource
        return self._content_reply(params, 201, resource)

    async def _fetch_content(self, request: web.Request) -> web.StreamResponse:
        params = {"Sid": request.match_info["sid"]}
        if not self._authorized(request):
            return self._content_reply(params, 401, {"code": 20003, "status": 401})
        found = self.contents.get(request.match_info["sid"])
        if found is None:
            return self._content_reply(params, 404, {"code": 20404, "status": 404})
        return self._content_reply(params, 200, found, method="contents.fetch")

    def _content_reply(
        self,
        params: Mapping[str, Any],
        status: int,
        body: dict[str, Any],
        *,
        method: str = "contents.create",
    ) -> web.Response:
        self._record(method, params, status, body)
        return web.json_response(body, status=status)

    def _refusal(self, to: str, params: Mapping[str, Any]) -> tuple[int, int, str] | None:
        refused = super()._refusal(to, params)
        if refused is not None or not to.startswith(PREFIX):
            return refused
        content = self.contents.get(str(params.get("ContentSid", "")))
        if params.get("ContentSid") and content is None:
            return 400, 21655, "The ContentSid is Invalid"
        if content is not None and content.get("approved"):
            return None
        last = self.last_inbound.get(to)
        if last is None or time.time() - last > self.window:
            return 400, WINDOW_CLOSED, _WINDOW_TEXT
        return None

    def _text(self, params: Mapping[str, Any], body: str) -> str:
        content = self.contents.get(str(params.get("ContentSid", "")))
        if content is None:
            return body
        try:
            variables = json.loads(str(params.get("ContentVariables") or "{}"))
        except ValueError:
            variables = {}
        shown = content_body(content)
        if isinstance(variables, dict):
            shown = _VARIABLE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), shown)
        return shown

    # --- the customer side ---------------------------------------------------------------

    async def customer_message(
        self,
        webhook_url: str,
        public_url: str | None = None,
        *,
        from_: str,
        to: str,
        body: str = "",
        name: str = "Ada",
        button: tuple[str, str] | None = None,
        list_item: tuple[str, str] | None = None,
        location: tuple[float, float] | None = None,
        media: Sequence[tuple[str, str]] = (),
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer writes to our WhatsApp sender; the window opens again.

        Args:
            webhook_url: The app's WhatsApp webhook.
            public_url: The URL the app validates signatures against; `webhook_url` if None.
            from_: The customer's number (E.164).
            to: Our WhatsApp sender (E.164).
            body: The text.
            name: The customer's WhatsApp profile name.
            button: (id, title) of a quick-reply button pressed.
            list_item: (id, title) of a list item picked.
            location: (latitude, longitude) shared.
            media: (url, content type) pairs.
            session: A client session to reuse.
        """
        sender = address_of(from_)
        params = sms_params(
            from_=sender, to=address_of(to), body=body, media=media, account_sid=self.account_sid
        )
        params["ProfileName"] = name
        params["WaId"] = sender[len(PREFIX) :].lstrip("+")
        if button is not None:
            params["ButtonPayload"], params["ButtonText"] = button
            params["Body"] = button[1]
        if list_item is not None:
            params["ListId"], params["ListTitle"] = list_item
            params["Body"] = list_item[1]
        if location is not None:
            params["Latitude"], params["Longitude"] = (str(v) for v in location)
        self.last_inbound[sender] = time.time()
        return await self.deliver(webhook_url, public_url, None, params, session=session)


def content_body(content: Mapping[str, Any]) -> str:
    """The text a Content resource shows (its first type's body)."""
    types = content.get("types") or {}
    for value in types.values():
        if isinstance(value, dict) and isinstance(value.get("body"), str):
            return str(value["body"])
    return ""
