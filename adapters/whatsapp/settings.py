"""The WhatsApp channel's own settings, from `BATON_WHATSAPP_*` environment variables.

WhatsApp goes through the Twilio account (`BATON_TWILIO_ACCOUNT_SID`, `BATON_TWILIO_AUTH_TOKEN`,
`BATON_TWILIO_API_BASE`, in `bot.settings.Settings`); these are what is WhatsApp's alone:

- `BATON_WHATSAPP_FROM`: the WhatsApp sender (E.164, with or without "whatsapp:"); the channel
  is on when it is set with the Twilio credentials.
- `BATON_WHATSAPP_TEMPLATES`: JSON, purpose -> approved Content template sid ("HX..."), e.g.
  `{"reply": "HX0123..."}`: what is sent in place of a message outside the customer-service
  window. A message's purpose is its prompt's `meta["purpose"]`, "reply" when unset.
- `BATON_WHATSAPP_WINDOW_HOURS`: the customer-service window (24, WhatsApp's; lower it to keep
  a margin).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["WhatsAppSettings"]


class WhatsAppSettings(BaseSettings):
    """Settings of the WhatsApp channel (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="BATON_WHATSAPP_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    sender: str | None = Field(
        None, validation_alias=AliasChoices("BATON_WHATSAPP_FROM", "sender")
    )
    """BATON_WHATSAPP_FROM: our WhatsApp number."""
    templates: dict[str, str] = Field(default_factory=dict)
    """BATON_WHATSAPP_TEMPLATES: purpose -> approved template's ContentSid."""
    window_hours: float = Field(24.0, gt=0, le=24)
    """BATON_WHATSAPP_WINDOW_HOURS: the customer-service window, in hours."""

    @field_validator("templates")
    @classmethod
    def _content_sids(cls, value: dict[str, str]) -> dict[str, str]:
        for purpose, sid in value.items():
            if not sid.startswith("HX") or len(sid) != 34:
                raise ValueError(
                    f"the template for {purpose!r} must be a Content sid like 'HX' + 32 hex "
                    f"digits, not {sid!r}"
                )
        return value
