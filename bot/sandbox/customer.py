"""The sandbox's customer: one per browser session, with a made-up identity on each channel
that cannot belong to a real person (each emulated channel's `CustomerView.customer_for`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.emulators import CustomerView
from adapters.registry import channel, emulated

__all__ = ["Customer", "customer_view"]


@dataclass(frozen=True, slots=True)
class Customer:
    """The sandbox customer of one browser session, on each channel."""

    phone: str
    """Their phone number: a North American number +1 NXX 555-01XX, reserved for fiction.
    It is their SMS identity and the number a Telegram contact shares."""
    ids: Mapping[str, str]
    """Their platform id on each channel (Telegram user id, phone number, Slack user)."""
    recipients: Mapping[str, str]
    """Where the bot's replies to them go on each channel, as the emulator records them."""

    @classmethod
    def for_session(cls, token: str, views: Mapping[str, CustomerView] | None = None) -> Customer:
        """The customer of the session cookie `token` (the same token, the same customer).

        Args:
            token: The session cookie.
            views: The channels' customer views; fresh ones from the registry when None.
        """
        if views is None:
            views = {name: customer_view(name) for name in emulated()}
        digest = hashlib.sha256(token.encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        area, line = 201 + number % 799, number // 799 % 100
        phone = f"+1{area}55501{line:02d}"
        ids = {name: view.customer_for(digest, phone) for name, view in views.items()}
        recipients = {name: views[name].recipient(ids[name]) for name in views}
        return cls(phone, ids, recipients)

    def recipient(self, channel: str) -> str:
        """Where the bot's replies to this customer go on `channel`, as the emulator records."""
        return self.recipients[channel]


def customer_view(name: str) -> CustomerView:
    """A fresh customer view of the emulated channel `name`, named as the sandbox names it."""
    make = channel(name).customer_view
    assert make is not None, f"{name} has no emulator"
    return make(sandbox=True)
