"""The Telegram customer: reads inline and reply keyboards, presses buttons, shares a contact."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import ClientSession

from adapters.emulators._recorder import Call, Emulator, WebhookResult
from adapters.emulators.customer import Button, Shown
from adapters.emulators.telegram import TelegramEmulator

if TYPE_CHECKING:
    from adapters.base import Adapter

__all__ = ["TelegramView"]

_PATH = "/webhooks/telegram"
_SENDS = {
    "sendMessage": None,
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAudio": "audio",
}
_FAKE_IDS = 4_000_000_000_000_000
"""Made-up user ids start here; real ones are far smaller."""


class TelegramView:
    """A Telegram bot's chat as its customer sees it, on a `TelegramEmulator`.

    Args:
        sandbox: Name the bot as the sandbox shows it ("Baton demo", @baton_demo_bot).
    """

    channel: ClassVar[str] = "telegram"
    default_customer: ClassVar[str] = "4242"
    signed_with: ClassVar[str] = "secret token"

    def __init__(self, *, sandbox: bool = False) -> None:
        self.token = "123456:" + secrets.token_urlsafe(18)
        """The bot token the adapter is given."""
        self.secret = secrets.token_urlsafe(32)
        """The webhook secret token the adapter is given."""
        names = {"first_name": "Baton demo", "username": "baton_demo_bot"} if sandbox else {}
        self.telegram = TelegramEmulator(self.token, **names)

    @property
    def emulator(self) -> Emulator:
        """The Telegram emulator."""
        return self.telegram

    def adapter(self, api_url: str, base_url: str | None) -> Adapter:
        """A `TelegramAdapter`; with `base_url` it registers its webhook there at start, as
        with Telegram, and the emulator delivers updates there."""
        from adapters.telegram import TelegramAdapter

        return TelegramAdapter(
            self.token, secret=self.secret, api_base=api_url, public_url=base_url
        )

    def identity(self, customer: str) -> str:
        """The user id."""
        return customer

    def recipient(self, customer: str) -> str:
        """The private chat's id, the user id."""
        return customer

    def customer_for(self, seed: bytes, phone: str) -> str:
        """A user id from 4,000,000,000,000,000 up."""
        return str(_FAKE_IDS + int.from_bytes(seed[8:14], "big") % 10**14)

    def describe(self, customer: str, name: str) -> tuple[str, str]:
        """("Alex (user 4242)", "@the_bot")."""
        return f"{name} (user {customer})", f"@{self.telegram.username}"

    def webhook(self, *, press: bool = False) -> str:
        """`/webhooks/telegram`, for messages and presses alike."""
        return _PATH

    def shown(self, call: Call) -> Shown | None:
        """The text or caption, the keyboard's buttons and the file sent."""
        if call.method not in _SENDS or not call.ok or call.recipient is None:
            return None
        params = call.params
        result = call.response.get("result") if isinstance(call.response, dict) else None
        message = str(result.get("message_id", "")) if isinstance(result, dict) else ""
        kind = _SENDS[call.method]
        media = (f"{kind}: {params[kind]}",) if kind and isinstance(params.get(kind), str) else ()
        buttons = _buttons(params.get("reply_markup"), message)
        return Shown(call.text or "", buttons, media, message)

    async def say(
        self,
        base_url: str,
        customer: str,
        text: str,
        *,
        name: str = "Ada",
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """A text message from the user, signed with the secret token."""
        return await self.telegram.customer_text(
            base_url + _PATH,
            self.secret,
            user_id=int(customer),
            text=text,
            first_name=name,
            session=session,
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
        """A callback_query for an inline button; the label as text for a reply-keyboard
        button; the contact `phone` for the share-my-number button."""
        url = base_url + _PATH
        if button.kind == "callback":
            return await self.telegram.customer_press(
                url,
                self.secret,
                user_id=int(customer),
                data=button.value,
                message_id=int(button.message) if button.message else None,
                first_name=name,
                session=session,
            )
        if button.kind == "contact":
            if phone is None:
                raise ValueError(
                    f"{button.label!r} shares the customer's phone number: use "
                    "chat.emulator.customer_contact(user_id=..., phone=...) to press it"
                )
            return await self.telegram.customer_contact(
                url,
                self.secret,
                user_id=int(customer),
                phone=phone,
                first_name=name,
                session=session,
            )
        return await self.say(base_url, customer, button.value, name=name, session=session)


def _buttons(markup: Any, message: str) -> tuple[Button, ...]:
    if not isinstance(markup, dict):
        return ()
    buttons: list[Button] = []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or ()
    for row in rows if isinstance(rows, list) else ():
        for key in row if isinstance(row, list) else ():
            if not isinstance(key, dict):
                continue
            label = str(key.get("text", ""))
            if isinstance(key.get("callback_data"), str):
                buttons.append(Button(label, "callback", key["callback_data"], message=message))
            elif key.get("request_contact"):
                buttons.append(Button(label, "contact", label))
            elif "url" not in key and "callback_data" not in key:
                buttons.append(Button(label, "text", label))
    return tuple(buttons)
