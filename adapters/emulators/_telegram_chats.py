"""The Telegram emulator's state: the bot, its webhook, chats, messages and queued updates."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Mapping
from typing import Any

from adapters.emulators._recorder import Emulator
from adapters.emulators._telegram_payloads import DEFAULT_BOT_ID, user_payload

__all__ = ["TelegramChats"]


class TelegramChats(Emulator):
    """What the Telegram emulator remembers; the Bot API and the customer side build on it."""

    def __init__(
        self, token: str | None = None, *, first_name: str = "EmuBot", username: str = "emu_bot"
    ) -> None:
        super().__init__()
        self.token = token
        self.first_name = first_name
        self.username = username
        self.blocked: set[int] = set()
        """Chats whose user blocked the bot: sends to them answer 403."""
        self.webhook: dict[str, Any] = {}
        """The last setWebhook parameters; empty when no webhook is set."""
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        """Every message the bot sent or the customer sent, by (chat_id, message_id)."""
        self.files: dict[str, bytes] = {}
        """Bytes of the files customers sent, by file_id (getFile and the file URL serve them)."""
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._names: dict[int, str] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._new_updates = asyncio.Event()
        self._closing = False

    # --- state helpers -------------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        """The user of `chat_id` blocks the bot: sends to them answer 403."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """The user of `chat_id` unblocks the bot."""
        self.blocked.discard(chat_id)

    def next_update_id(self) -> int:
        """A fresh update id, one more than the last."""
        return next(self._update_ids)

    def next_message_id(self, chat_id: int) -> int:
        """A fresh message id in `chat_id` (bot and customer messages share the sequence)."""
        counter = self._message_ids.get(chat_id)
        if counter is None:
            counter = self._message_ids[chat_id] = itertools.count(1)
        return next(counter)

    def enqueue(self, update: Mapping[str, Any]) -> None:
        """Queue an update for `getUpdates` (long polling) and wake waiting pollers."""
        self._updates.append(dict(update))
        self._new_updates.set()
        self._new_updates = asyncio.Event()

    def _bot_id(self, token: str) -> int:
        head = token.split(":", 1)[0]
        return int(head) if head.isdigit() else DEFAULT_BOT_ID

    def _bot_user(self, token: str) -> dict[str, Any]:
        return user_payload(
            self._bot_id(token), self.first_name, username=self.username, is_bot=True
        )
