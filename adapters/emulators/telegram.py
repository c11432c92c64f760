"""An emulator of the Telegram Bot API (`/bot{token}/{method}`) and of Telegram's webhook calls.

Point aiogram at it with
`Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))`.
The customer side (`customer_text`, `customer_press`, ...) builds real-format updates and
POSTs them to the bot's webhook with the `X-Telegram-Bot-Api-Secret-Token` header, or queues
them for `getUpdates` when no webhook is set.

`TelegramEmulator` is built in layers: `_telegram_chats.TelegramChats` (what it remembers:
webhook, chats, messages, queued updates), `_telegram_api.TelegramBotApi` (the Bot API's
methods), and here the customer side; `_telegram_payloads` makes Telegram's JSON objects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from aiohttp import ClientSession

from adapters.emulators._recorder import WebhookResult, post_webhook
from adapters.emulators._telegram_api import TelegramBotApi
from adapters.emulators._telegram_payloads import (
    DEFAULT_BOT_ID,
    callback_payload,
    file_ids,
    update_payload,
    user_payload,
)

__all__ = ["TelegramEmulator", "callback_payload", "update_payload", "user_payload"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramEmulator(TelegramBotApi):
    """The Telegram Bot API, answering like api.telegram.org.

    Args:
        token: The bot token; other tokens get 401. When None any `<digits>:<text>` token is
            accepted and the bot's id is its digits.
        first_name: The bot's first name (getMe).
        username: The bot's username (getMe).

    Example:
        >>> emu = TelegramEmulator("123456:TEST")
        >>> async with emu.run() as url:
        ...     bot = Bot("123456:TEST", session=AiohttpSession(
        ...         api=TelegramAPIServer.from_base(url)))
    """

    channel: ClassVar[str] = "telegram"
    _fault_exempt: ClassVar[frozenset[str]] = frozenset({"getMe", "getUpdates"})

    def __init__(
        self, token: str | None = None, *, first_name: str = "EmuBot", username: str = "emu_bot"
    ) -> None:
        super().__init__(token, first_name=first_name, username=username)
        self._languages: dict[int, str] = {}

    def speaks(self, user_id: int, language_code: str) -> None:
        """Set the `language_code` a customer's Telegram app sends ("en" until set)."""
        self._languages[user_id] = language_code

    def _with_language(self, update: dict[str, Any], user_id: int) -> dict[str, Any]:
        code = self._languages.get(user_id)
        if code is not None:
            for key in ("message", "callback_query"):
                sender = update.get(key, {}).get("from")
                if isinstance(sender, dict):
                    sender["language_code"] = code
        return update

    # --- the customer side ---------------------------------------------------------------

    async def deliver(
        self,
        webhook_url: str | None,
        secret: str | None,
        update: Mapping[str, Any],
        *,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """Deliver an update as Telegram does: POST it to the webhook, or queue it for polling.

        Args:
            webhook_url: Where to POST; when None, the URL registered with setWebhook. When
                neither exists the update is queued for getUpdates (result status 0).
            secret: The X-Telegram-Bot-Api-Secret-Token value; when None, the secret_token
                registered with setWebhook (no header when there is none).
            update: The update JSON, e.g. from `update_payload`.
            session: A client session to reuse.
        """
        url = webhook_url or self.webhook.get("url")
        if not url:
            self.enqueue(update)
            return WebhookResult(0, "")
        token = secret if secret is not None else self.webhook.get("secret_token")
        headers = {"Content-Type": "application/json"}
        if token:
            headers[SECRET_HEADER] = str(token)
        return await post_webhook(url, json.dumps(update), headers, session=session)

    async def _customer_message(
        self,
        webhook_url: str | None,
        secret: str | None,
        *,
        user_id: int,
        first_name: str,
        chat_id: int | None,
        session: ClientSession | None,
        text: str | None = None,
        content: Mapping[str, Any] | None = None,
    ) -> WebhookResult:
        chat = user_id if chat_id is None else chat_id
        self._names.setdefault(chat, first_name)
        update = update_payload(
            self.next_update_id(),
            user_id=user_id,
            text=text,
            first_name=first_name,
            chat_id=chat_id,
            message_id=self.next_message_id(chat),
            content=content,
        )
        self.messages[chat, update["message"]["message_id"]] = update["message"]
        self._with_language(update, user_id)
        return await self.deliver(webhook_url, secret, update, session=session)

    async def customer_text(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        text: str,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends a text message.

        Args:
            webhook_url: The bot's webhook; see `deliver` for None.
            secret: The secret token header; see `deliver` for None.
            user_id: The customer's Telegram user id (the private chat's id too).
            text: What they type.
            first_name: Their first name.
            chat_id: A group chat instead of the private chat.
            session: A client session to reuse.
        """
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            text=text,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
        )

    async def customer_photo(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        caption: str | None = None,
        file_unique_id: str | None = None,
        first_name: str = "Ada",
        chat_id: int | None = None,
        data: bytes | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends a photo (three sizes, smallest first), optionally captioned;
        with `data`, getFile and the file URL serve those bytes for each size."""
        file_id, unique = file_ids(f"photo:{user_id}:{time.time_ns()}")
        unique = file_unique_id or unique
        sizes = [
            {
                "file_id": f"{file_id}{tag}",
                "file_unique_id": f"{unique}{tag}",
                "file_size": w * h // 8 if data is None else len(data),
                "width": w,
                "height": h,
            }
            for tag, w, h in (("s", 90, 67), ("m", 320, 240), ("x", 1280, 960))
        ]
        if data is not None:
            self.files.update({str(size["file_id"]): data for size in sizes})
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content=content,
        )

    async def customer_document(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        first_name: str = "Ada",
        chat_id: int | None = None,
        data: bytes | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends a file; with `data`, getFile and the file URL serve it."""
        file_id, unique = file_ids(f"document:{user_id}:{file_name}:{time.time_ns()}")
        content: dict[str, Any] = {
            "document": {
                "file_id": file_id,
                "file_unique_id": unique,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": 2048 if data is None else len(data),
            }
        }
        if data is not None:
            self.files[file_id] = data
        if caption is not None:
            content["caption"] = caption
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content=content,
        )

    async def customer_contact(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        phone: str,
        contact_user_id: int | Literal["own"] | None = "own",
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer shares a contact card.

        Args:
            webhook_url: As for `customer_text`.
            secret: As for `customer_text`.
            user_id: The sender.
            phone: The card's phone number, as the client sends it ("+1555..." or "1555...").
            contact_user_id: "own" (the sender's own number, as the request_contact button
                sends it), another user's id (a forwarded card), or None (no Telegram account).
            first_name: The sender's and card's first name.
            chat_id: A group chat instead of the private chat.
            session: A client session to reuse.
        """
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        owner = user_id if contact_user_id == "own" else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content={"contact": contact},
        )

    async def customer_location(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        latitude: float,
        longitude: float,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer shares a location."""
        location = {"latitude": latitude, "longitude": longitude}
        return await self._customer_message(
            webhook_url,
            secret,
            user_id=user_id,
            first_name=first_name,
            chat_id=chat_id,
            session=session,
            content={"location": location},
        )

    async def customer_press(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        data: str,
        message_id: int | None = None,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer presses an inline button (a `callback_query`).

        Args:
            webhook_url: As for `customer_text`.
            secret: As for `customer_text`.
            user_id: Who presses.
            data: The button's callback_data.
            message_id: The bot message carrying the button; the bot's last message in the
                chat when None. A message the emulator sent is included as it was sent.
            first_name: The presser's first name.
            chat_id: A group chat instead of the private chat.
            session: A client session to reuse.
        """
        chat = user_id if chat_id is None else chat_id
        if message_id is None:
            message_id = max(
                (
                    mid
                    for (cid, mid), msg in self.messages.items()
                    if cid == chat and msg["from"].get("is_bot")
                ),
                default=1,
            )
        update = callback_payload(
            self.next_update_id(),
            user_id=user_id,
            data=data,
            message=self.messages.get((chat, message_id)),
            message_id=message_id,
            first_name=first_name,
            chat_id=chat_id,
            bot_id=self._bot_id(self.token or f"{DEFAULT_BOT_ID}:x"),
        )
        self._with_language(update, user_id)
        return await self.deliver(webhook_url, secret, update, session=session)

    async def customer_edit(
        self,
        webhook_url: str | None = None,
        secret: str | None = None,
        *,
        user_id: int,
        message_id: int,
        text: str,
        first_name: str = "Ada",
        chat_id: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer edits one of their earlier messages (an `edited_message`)."""
        update = update_payload(
            self.next_update_id(),
            user_id=user_id,
            text=text,
            first_name=first_name,
            chat_id=chat_id,
            message_id=message_id,
            edited=True,
        )
        return await self.deliver(webhook_url, secret, update, session=session)
