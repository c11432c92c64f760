"""The SMS (Twilio) channel's entry in the channel registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.registry import Channel

if TYPE_CHECKING:
    from adapters.base import Adapter
    from adapters.emulators.customer import CustomerView

__all__ = ["CHANNEL"]


def _from_settings(settings: Any) -> Adapter:
    missing = [
        name
        for name, value in (
            ("BATON_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("BATON_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
            ("BATON_TWILIO_FROM", settings.twilio_from),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"SMS needs {', '.join(missing)} as well")
    from adapters.twilio.adapter import TwilioAdapter

    try:
        return TwilioAdapter(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            public_url=settings.public_url,
            api_base=settings.twilio_api_base,
        )
    except ValueError as exc:
        raise ValueError(f"BATON_TWILIO_*: {exc}") from None


def _customer_view(*, sandbox: bool = False) -> CustomerView:
    from adapters.emulators.twilio_customer import TwilioView

    return TwilioView(sandbox=sandbox)


CHANNEL = Channel(
    name="twilio",
    called="SMS",
    sandbox=True,
    credentials=("twilio_account_sid", "twilio_auth_token"),
    from_settings=_from_settings,
    customer_view=_customer_view,
)
"""SMS through Twilio: on when BATON_TWILIO_ACCOUNT_SID and BATON_TWILIO_AUTH_TOKEN are set."""
