"""The bot's messages to each customer, in the order an emulator got them."""

from __future__ import annotations

import asyncio
from collections import deque

from adapters.emulators import Call, CustomerView

__all__ = ["Mailbox"]


class Mailbox:
    """Hands each customer the bot's messages to them, in the order the emulator got them.

    Only one reader awaits the emulator at a time; a message for another customer is kept for
    that customer. Calls that are not messages (getMe, answerCallbackQuery, auth.test, failed
    sends) are passed over; they stay in `emulator.calls()`.
    """

    def __init__(self, view: CustomerView) -> None:
        self._view = view
        self._emulator = view.emulator
        self._lock = asyncio.Lock()
        self._kept: dict[str, deque[Call]] = {}

    async def next(self, recipient: str, timeout: float) -> Call:
        """The next message to `recipient`, waiting up to `timeout` seconds (`TimeoutError`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            kept = self._kept.get(recipient)
            if kept:
                return kept.popleft()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                async with asyncio.timeout(remaining), self._lock:
                    if self._kept.get(recipient):
                        continue
                    call = await self._emulator.next_call(None, timeout=remaining)
            except AssertionError:  # the emulator's "no call within ..."
                raise TimeoutError from None
            self._keep(call)

    async def drain(self) -> None:
        """Take every call the emulator has received but nobody read yet, without waiting."""
        async with self._lock:
            while True:
                try:
                    call = await self._emulator.next_call(None, timeout=0)
                except AssertionError:
                    return
                self._keep(call)

    def unread(self, recipient: str) -> list[Call]:
        """The messages to `recipient` taken but not read yet."""
        return list(self._kept.get(recipient, ()))

    def _keep(self, call: Call) -> None:
        if call.recipient is not None and self._view.shown(call) is not None:
            self._kept.setdefault(call.recipient, deque()).append(call)
