"""The SMS customer: reads texts (numbered parts joined by the reader) and texts back."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, ClassVar

from aiohttp import ClientSession

from adapters.emulators._recorder import Call, Emulator, WebhookResult
from adapters.emulators.customer import Button, Shown
from adapters.emulators.twilio import TwilioEmulator

if TYPE_CHECKING:
    from adapters.base import Adapter

__all__ = ["TwilioView"]

_PATH = "/webhooks/twilio/sms"
_PART_MARKER = re.compile(r"\((\d+)/(\d+)\) ")


class TwilioView:
    """An SMS conversation with our Twilio number as its customer sees it."""

    channel: ClassVar[str] = "twilio"
    default_customer: ClassVar[str] = "+15551230001"
    signed_with: ClassVar[str] = "X-Twilio-Signature"

    def __init__(self, *, sandbox: bool = False) -> None:
        self.number = "+15005550006"
        """Our Twilio number (Twilio's test "from" number)."""
        self.twilio = TwilioEmulator("AC" + secrets.token_hex(16), secrets.token_hex(16))

    @property
    def emulator(self) -> Emulator:
        """The Twilio emulator."""
        return self.twilio

    def adapter(self, api_url: str, base_url: str | None) -> Adapter:
        """A `TwilioAdapter` checking signatures against `base_url`."""
        from adapters.twilio import TwilioAdapter

        return TwilioAdapter(
            self.twilio.account_sid,
            self.twilio.auth_token,
            self.number,
            public_url=base_url,
            api_base=api_url,
        )

    def identity(self, customer: str) -> str:
        """The phone number."""
        return customer

    def recipient(self, customer: str) -> str:
        """The phone number."""
        return customer

    def customer_for(self, seed: bytes, phone: str) -> str:
        """The person's phone number."""
        return phone

    def describe(self, customer: str, name: str) -> tuple[str, str]:
        """(their number, our number)."""
        return customer, self.number

    def webhook(self, *, press: bool = False) -> str:
        """`/webhooks/twilio/sms`: an option is answered by texting its number."""
        return _PATH

    def shown(self, call: Call) -> Shown | None:
        """The body without its "(i/n) " part marker, and the media URLs."""
        if call.method != "messages.create" or not call.ok or call.recipient is None:
            return None
        body = call.text or ""
        marker = _PART_MARKER.match(body)
        parts = int(marker.group(2)) - int(marker.group(1)) + 1 if marker else 1
        urls = call.params.get("MediaUrl") or []
        media = tuple(str(url) for url in urls) if isinstance(urls, list) else ()
        return Shown(body[marker.end() :] if marker else body, media=media, parts=parts)

    async def say(
        self,
        base_url: str,
        customer: str,
        text: str,
        *,
        name: str = "Ada",
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """An inbound SMS to our number, signed over Baton's URL."""
        url = base_url + _PATH
        return await self.twilio.customer_sms(
            url, url, from_=customer, to=self.number, body=text, session=session
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
        """The option's number (or the button's text) texted back."""
        return await self.say(base_url, customer, button.value, name=name, session=session)
