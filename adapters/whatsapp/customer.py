"""The WhatsApp customer: reads messages (with quick-reply buttons and list pickers drawn from
the Content they were sent with) and writes, taps and picks back through the signed webhook."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, ClassVar

from aiohttp import ClientSession

from adapters.emulators import Button, Call, Emulator, Shown, WebhookResult
from adapters.whatsapp.emulator import WhatsAppEmulator, content_body
from adapters.whatsapp.parse import address_of

if TYPE_CHECKING:
    from adapters.base import Adapter

__all__ = ["WhatsAppView"]

_PATH = "/webhooks/whatsapp"
_PART_MARKER = re.compile(r"\((\d+)/(\d+)\) ")


class WhatsAppView:
    """A WhatsApp chat with our Twilio WhatsApp sender, as its customer sees it."""

    channel: ClassVar[str] = "whatsapp"
    default_customer: ClassVar[str] = "+15551230001"
    signed_with: ClassVar[str] = "X-Twilio-Signature"

    def __init__(self, *, sandbox: bool = False) -> None:
        self.number = "+14155238886"
        """Our WhatsApp sender (Twilio's sandbox number)."""
        self.twilio = WhatsAppEmulator("AC" + secrets.token_hex(16), secrets.token_hex(16))

    @property
    def emulator(self) -> Emulator:
        """The Twilio emulator, WhatsApp side."""
        return self.twilio

    def adapter(self, api_url: str, base_url: str | None) -> Adapter:
        """A `WhatsAppAdapter` checking signatures against `base_url`."""
        from adapters.whatsapp.adapter import WhatsAppAdapter

        return WhatsAppAdapter(
            self.twilio.account_sid,
            self.twilio.auth_token,
            self.number,
            public_url=base_url,
            api_base=api_url,
        )

    def identity(self, customer: str) -> str:
        """The phone number (E.164)."""
        return customer

    def recipient(self, customer: str) -> str:
        """ "whatsapp:" and the number."""
        return address_of(customer)

    def customer_for(self, seed: bytes, phone: str) -> str:
        """The person's phone number."""
        return phone

    def describe(self, customer: str, name: str) -> tuple[str, str]:
        """(their number, our number)."""
        return customer, self.number

    def webhook(self, *, press: bool = False) -> str:
        """`/webhooks/whatsapp`: buttons and list items are webhooks too."""
        return _PATH

    def shown(self, call: Call) -> Shown | None:
        """The body (a Content's body, with its buttons or list items), the media URLs."""
        if call.method != "messages.create" or not call.ok or call.recipient is None:
            return None
        body = call.text or ""
        marker = _PART_MARKER.match(body)
        parts = int(marker.group(2)) - int(marker.group(1)) + 1 if marker else 1
        urls = call.params.get("MediaUrl") or []
        media = tuple(str(url) for url in urls) if isinstance(urls, list) else ()
        buttons: tuple[Button, ...] = ()
        content = self.twilio.contents.get(str(call.params.get("ContentSid", "")))
        if content is not None:
            body = call.text or content_body(content)
            types = content.get("types") or {}
            quick = types.get("twilio/quick-reply") or {}
            listed = types.get("twilio/list-picker") or {}
            buttons = tuple(
                Button(str(a["title"]), "action", str(a["id"]), action_id="quick")
                for a in quick.get("actions") or ()
            ) + tuple(
                Button(str(i["item"]), "action", str(i["id"]), action_id="list")
                for i in listed.get("items") or ()
            )
        return Shown(
            body[marker.end() :] if marker else body, buttons=buttons, media=media, parts=parts
        )

    async def say(
        self,
        base_url: str,
        customer: str,
        text: str,
        *,
        name: str = "Ada",
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """A WhatsApp message to our sender, signed over Baton's URL."""
        url = base_url + _PATH
        return await self.twilio.customer_message(
            url, url, from_=customer, to=self.number, body=text, name=name, session=session
        )

    async def press(
        self,
        base_url: str,
        customer: str,
        button: Button,
        *,
        name: str = "Ada",
        phone: str | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """A quick-reply button tapped or a list item picked; an option's number typed."""
        if button.kind != "action":
            return await self.say(base_url, customer, button.value, name=name, session=session)
        url = base_url + _PATH
        picked = (button.value, button.label)
        return await self.twilio.customer_message(
            url,
            url,
            from_=customer,
            to=self.number,
            name=name,
            button=picked if button.action_id == "quick" else None,
            list_item=picked if button.action_id == "list" else None,
            session=session,
        )
