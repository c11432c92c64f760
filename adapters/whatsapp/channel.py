"""The WhatsApp channel's entry in the channel registry.

On when the Twilio account (BATON_TWILIO_ACCOUNT_SID, BATON_TWILIO_AUTH_TOKEN) and the WhatsApp
sender (BATON_WHATSAPP_FROM) are set; see `adapters.whatsapp.settings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.registry import Channel

if TYPE_CHECKING:
    from adapters.base import Adapter
    from adapters.emulators.customer import CustomerView

__all__ = ["CHANNEL"]


def _enabled(settings: Any) -> bool:
    from pydantic import ValidationError

    from adapters.whatsapp.settings import WhatsAppSettings

    try:
        return bool(WhatsAppSettings().sender)
    except ValidationError:
        return True  # set, but wrong: building the adapter names the setting to fix


def _from_settings(settings: Any) -> Adapter:
    from pydantic import ValidationError

    from adapters.whatsapp.adapter import WhatsAppAdapter
    from adapters.whatsapp.settings import WhatsAppSettings

    try:
        own = WhatsAppSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "BATON_WHATSAPP_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ValueError(f"{where}: {first['msg']}") from None
    missing = [
        name
        for name, value in (
            ("BATON_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("BATON_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
            ("BATON_WHATSAPP_FROM", own.sender),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"WhatsApp needs {', '.join(missing)} as well")
    try:
        return WhatsAppAdapter(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            str(own.sender),
            public_url=settings.public_url,
            api_base=settings.twilio_api_base,
            templates=own.templates,
            window_hours=own.window_hours,
        )
    except ValueError as exc:
        raise ValueError(f"BATON_WHATSAPP_*: {exc}") from None


def _customer_view(*, sandbox: bool = False) -> CustomerView:
    from adapters.whatsapp.customer import WhatsAppView

    return WhatsAppView(sandbox=sandbox)


CHANNEL = Channel(
    name="whatsapp",
    called="WhatsApp",
    sandbox=True,
    credentials=("twilio_account_sid", "twilio_auth_token"),
    from_settings=_from_settings,
    customer_view=_customer_view,
    enabled=_enabled,
)
"""WhatsApp through Twilio: on with the Twilio credentials and BATON_WHATSAPP_FROM."""
