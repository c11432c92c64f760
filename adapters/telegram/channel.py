"""The Telegram channel's entry in the channel registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.registry import Channel

if TYPE_CHECKING:
    from adapters.base import Adapter
    from adapters.emulators.customer import CustomerView

__all__ = ["CHANNEL"]


def _from_settings(settings: Any) -> Adapter:
    from adapters.telegram.adapter import TelegramAdapter

    try:
        return TelegramAdapter(
            settings.telegram_token,
            secret=settings.telegram_secret,
            api_base=settings.telegram_api_base,
            mode=settings.telegram_mode,
            public_url=settings.public_url,
        )
    except ValueError as exc:
        raise ValueError(f"BATON_TELEGRAM_*: {exc}") from None


def _customer_view(*, sandbox: bool = False) -> CustomerView:
    from adapters.emulators.telegram_customer import TelegramView

    return TelegramView(sandbox=sandbox)


CHANNEL = Channel(
    name="telegram",
    called="Telegram",
    sandbox=True,
    credentials=("telegram_token",),
    from_settings=_from_settings,
    customer_view=_customer_view,
)
"""Telegram: on when BATON_TELEGRAM_TOKEN is set."""
