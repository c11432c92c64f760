"""The channel registry: one place that names the channels, read by settings, the sandbox, the
test kit and the texts customers read."""

from __future__ import annotations

import uuid

import pytest

from adapters.registry import (
    Channel,
    channel,
    channel_name,
    channels,
    configured,
    emulated,
    register,
    settings_adapters,
)
from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from adapters.twilio import TwilioAdapter
from bot import sandbox, testing
from bot.channels import channel_adapters
from bot.settings import SettingsError, load_settings

NONE: dict[str, object] = {
    "telegram_token": None,
    "twilio_account_sid": None,
    "twilio_auth_token": None,
    "slack_bot_token": None,
    "slack_signing_secret": None,
    "_env_file": None,
}


def test_the_built_in_channels_and_what_customers_call_them() -> None:
    assert [c.name for c in channels()] == ["telegram", "twilio", "slack", "web"]
    assert [channel_name(c.name) for c in channels()] == [
        "Telegram",
        "SMS",
        "Slack",
        "the web chat",
    ]
    assert channel_name("shell") == "shell"


def test_the_sandbox_and_the_test_kit_emulate_the_registered_platforms() -> None:
    assert emulated() == ("telegram", "twilio", "slack")
    assert emulated() == sandbox.CHANNELS
    assert emulated() == testing.CHANNELS


def test_a_channel_is_on_when_its_credentials_are_set() -> None:
    settings = load_settings(
        **(
            NONE
            | {
                "telegram_token": "123456:ABC",
                "telegram_mode": "polling",
                "slack_bot_token": "xoxb-1",
                "slack_signing_secret": "s",
            }
        )
    )
    assert configured(settings) == ["telegram", "slack"]
    assert settings.channels_configured == ["telegram", "slack"]
    made = settings_adapters(settings)
    assert [type(a) for a in made] == [TelegramAdapter, SlackAdapter]


async def test_a_half_configured_channel_names_the_missing_setting() -> None:
    settings = load_settings(**(NONE | {"twilio_account_sid": "AC1", "twilio_auth_token": "t"}))
    with pytest.raises(SettingsError, match="SMS needs BATON_TWILIO_FROM as well"):
        await channel_adapters(settings)
    complete = load_settings(
        **(
            NONE
            | {
                "twilio_account_sid": "AC1",
                "twilio_auth_token": "t",
                "twilio_from": "+15005550006",
            }
        )
    )
    assert [type(a) for a in await channel_adapters(complete)] == [TwilioAdapter]


def test_a_plug_in_channel_is_one_registration() -> None:
    name = f"echo{uuid.uuid4().hex[:6]}"
    register(Channel(name=name, called="the echo line"))
    assert channel(name).called == "the echo line"
    assert channel_name(name) == "the echo line"
    assert channels()[-1].name == name
    with pytest.raises(ValueError, match="already registered"):
        register(Channel(name=name, called="again"))
    with pytest.raises(KeyError, match="unknown channel"):
        channel("no-such-channel")
