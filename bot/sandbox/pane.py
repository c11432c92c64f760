"""What a sandbox pane shows: the customer's and the bot's messages, and who waits for more."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.emulators import Button

__all__ = ["PRESSED", "Entry", "Pane", "send_of"]

_KEEP = 300  # entries kept per pane


PRESSED = frozenset({"callback", "action"})
"""Kinds of buttons the page presses by their choice (the others send text or a contact)."""


def send_of(button: Button, ref: str) -> dict[str, Any]:
    """The body the page POSTs when `button` is pressed."""
    if button.kind == "contact":
        return {"contact": True}
    if button.kind in PRESSED:
        return {"choice": button.value, "ref": button.message or ref}
    return {"text": button.value}


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a pane: the customer's message or press, the bot's message, or a note."""

    seq: int
    sender: Literal["customer", "bot", "note"]
    text: str
    kind: str = "text"
    buttons: tuple[Button, ...] = ()
    media: tuple[str, ...] = ()
    ref: str = ""
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """The entry as the page reads it."""
        return {
            "seq": self.seq,
            "from": self.sender,
            "kind": self.kind,
            "text": self.text,
            "buttons": [
                {"label": b.label, "send": send_of(b, self.ref)}
                for b in self.buttons
                if b.kind in PRESSED or b.kind in ("text", "contact")
            ],
            "media": list(self.media),
            "at": self.at,
        }


class Pane:
    """One customer's conversation on one channel: what the pane shows, and its waiters."""

    def __init__(self) -> None:
        self._entries: deque[Entry] = deque(maxlen=_KEEP)
        self._seq = 0
        self._changed = asyncio.Event()
        self.closed = False

    def add(
        self,
        sender: Literal["customer", "bot", "note"],
        text: str,
        *,
        kind: str = "text",
        buttons: Iterable[Button] = (),
        media: Iterable[str] = (),
        ref: str = "",
    ) -> None:
        """Show a new entry and wake whoever waits for one."""
        # Milliseconds, increasing across restarts too, so an open page's cursor stays valid.
        self._seq = max(self._seq + 1, int(time.time() * 1000))
        self._entries.append(
            Entry(self._seq, sender, text, kind, tuple(buttons), tuple(media), ref)
        )
        self._wake()

    @property
    def last(self) -> int:
        """The sequence number of the newest entry (0 when there is none)."""
        return self._entries[-1].seq if self._entries else 0

    def after(self, seq: int) -> list[Entry]:
        """The entries after the sequence number `seq`."""
        return [entry for entry in self._entries if entry.seq > seq]

    def button(self, choice: str, ref: str | None) -> Button | None:
        """The newest bot button sending `choice` (on the message `ref`, when given)."""
        for entry in reversed(self._entries):
            if entry.sender != "bot" or (ref and entry.ref != ref):
                continue
            for button in entry.buttons:
                if button.kind in PRESSED and button.value == choice:
                    return button
        return None

    def contact_button(self) -> Button | None:
        """The newest bot button that shares the customer's phone number."""
        for entry in reversed(self._entries):
            for button in entry.buttons if entry.sender == "bot" else ():
                if button.kind == "contact":
                    return button
        return None

    async def wait(self, after: int, timeout: float) -> list[Entry]:
        """The entries after `after`, once there are any (or `timeout`, or the pane closed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.after(after) and not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                break
        return self.after(after)

    def close(self) -> None:
        """Answer every waiter now: the server is stopping."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
