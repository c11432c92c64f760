"""Which platform channels to run, from the settings (a channel is on when its credentials
are set)."""

from __future__ import annotations

from adapters.base import Adapter
from bot.settings import Settings, SettingsError

__all__ = ["channel_adapters", "sandbox_wanted"]


def sandbox_wanted(settings: Settings) -> bool:
    """Whether `baton run` serves the sandbox at /sandbox: BATON_SANDBOX when it is set,
    otherwise when no platform credentials are set."""
    if settings.sandbox is not None:
        return settings.sandbox
    return not settings.channels_configured


async def channel_adapters(settings: Settings) -> list[Adapter]:
    """The platform adapters whose credentials are configured.

    Raises:
        SettingsError: a channel is half configured; the message names the variable.
    """
    adapters: list[Adapter] = []
    if settings.telegram_token:
        from adapters.telegram import TelegramAdapter

        try:
            adapters.append(
                TelegramAdapter(
                    settings.telegram_token,
                    secret=settings.telegram_secret,
                    api_base=settings.telegram_api_base,
                    mode=settings.telegram_mode,
                    public_url=settings.public_url,
                )
            )
        except ValueError as exc:
            raise SettingsError(f"BATON_TELEGRAM_*: {exc}") from None
    if settings.twilio_account_sid or settings.twilio_auth_token:
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
            raise SettingsError(f"SMS needs {', '.join(missing)} as well")
        from adapters.twilio import TwilioAdapter

        assert settings.twilio_account_sid
        assert settings.twilio_auth_token
        assert settings.twilio_from
        try:
            adapters.append(
                TwilioAdapter(
                    settings.twilio_account_sid,
                    settings.twilio_auth_token,
                    settings.twilio_from,
                    public_url=settings.public_url,
                    api_base=settings.twilio_api_base,
                )
            )
        except ValueError as exc:
            raise SettingsError(f"BATON_TWILIO_*: {exc}") from None
    if settings.slack_bot_token or settings.slack_signing_secret:
        if not (settings.slack_bot_token and settings.slack_signing_secret):
            raise SettingsError(
                "Slack needs both BATON_SLACK_BOT_TOKEN and BATON_SLACK_SIGNING_SECRET"
            )
        from adapters.slack import SlackAdapter

        try:
            adapters.append(
                SlackAdapter(
                    settings.slack_bot_token,
                    settings.slack_signing_secret,
                    api_base=settings.slack_api_base,
                )
            )
        except ValueError as exc:
            raise SettingsError(f"BATON_SLACK_*: {exc}") from None
    return adapters
