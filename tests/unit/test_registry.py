"""The channel registry: one place that names the channels, read by settings, the sandbox, the
test kit and the texts customers read."""

from __future__ import annotations

import uuid
from pathlib import Path

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
from adapters.whatsapp import WhatsAppAdapter
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
    assert [c.name for c in channels()] == ["telegram", "twilio", "slack", "whatsapp", "web"]
    assert [channel_name(c.name) for c in channels()] == [
        "Telegram",
        "SMS",
        "Slack",
        "WhatsApp",
        "the web chat",
    ]
    assert channel_name("shell") == "shell"


def test_the_sandbox_and_the_test_kit_emulate_the_registered_platforms() -> None:
    assert emulated() == ("telegram", "twilio", "slack", "whatsapp")
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


async def test_whatsapp_is_on_with_the_twilio_account_and_its_own_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = {
        "twilio_account_sid": "AC1",
        "twilio_auth_token": "t",
        "twilio_from": "+15005550006",
    }
    settings = load_settings(**(NONE | account))
    assert configured(settings) == ["twilio"]  # no BATON_WHATSAPP_FROM: SMS only
    monkeypatch.setenv("BATON_WHATSAPP_FROM", "whatsapp:+14155238886")
    monkeypatch.setenv("BATON_WHATSAPP_TEMPLATES", '{"reply": "HX' + "1" * 32 + '"}')
    assert configured(settings) == ["twilio", "whatsapp"]
    made = await channel_adapters(settings)
    assert [type(a) for a in made] == [TwilioAdapter, WhatsAppAdapter]
    whatsapp = made[1]
    assert isinstance(whatsapp, WhatsAppAdapter)
    assert whatsapp.from_number == "whatsapp:+14155238886"
    assert whatsapp.templates == {"reply": "HX" + "1" * 32}


async def test_a_whatsapp_template_that_is_not_a_content_sid_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = {
        "twilio_account_sid": "AC1",
        "twilio_auth_token": "t",
        "twilio_from": "+15005550006",
    }
    settings = load_settings(**(NONE | account))
    monkeypatch.setenv("BATON_WHATSAPP_FROM", "+14155238886")
    monkeypatch.setenv("BATON_WHATSAPP_TEMPLATES", '{"reply": "hello {{1}}"}')
    with pytest.raises(SettingsError, match="BATON_WHATSAPP_TEMPLATES"):
        await channel_adapters(settings)


def test_no_module_but_the_registry_and_its_own_package_names_whatsapp() -> None:
    root = Path(__file__).resolve().parents[2]
    naming = sorted(
        str(path.relative_to(root))
        for package in ("adapters", "bot", "dialogs", "storage", "examples")
        for path in (root / package).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".js", ".html", ".css", ".ini", ".mako", ".tmpl"}
        and "whatsapp" in path.read_text(encoding="utf-8", errors="replace").lower()
        and (root / "adapters" / "whatsapp") not in path.parents
    )
    assert naming == ["adapters/registry.py"]


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
