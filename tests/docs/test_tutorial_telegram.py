"""The tutorial's last step, putting the bot on Telegram: the `.env` files it shows start the
Telegram channel as it says, against the Telegram emulator standing in for api.telegram.org
(only the token is swapped for the emulator's, and the API base added)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.emulators import TelegramEmulator
from bot.channels import channel_adapters
from bot.settings import Settings

TUTORIAL = Path(__file__).resolve().parents[2] / "examples" / "tutorial"


def _settings(env_file: Path, api_base: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    import os

    for name in [n for n in os.environ if n.startswith("BATON_")]:
        monkeypatch.delenv(name)
    settings = Settings(_env_file=env_file)
    return settings.model_copy(update={"telegram_api_base": api_base})


async def test_the_webhook_env_registers_the_webhook_with_its_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    telegram = TelegramEmulator("123456789:paste-the-token-from-BotFather")
    async with telegram.run() as api:
        settings = _settings(TUTORIAL / "telegram.env", api, monkeypatch)
        assert settings.channels_configured == ["telegram"]
        (adapter,) = await channel_adapters(settings)
        await adapter.start()
        await adapter.aclose()
    (registered,) = telegram.calls("setWebhook")
    assert registered.params["url"] == "https://shop.example.com/webhooks/telegram"
    assert registered.params["secret_token"] == "make-up-a-long-random-secret"


async def test_the_polling_env_needs_no_public_address(monkeypatch: pytest.MonkeyPatch) -> None:
    telegram = TelegramEmulator("123456789:paste-the-token-from-BotFather")
    async with telegram.run() as api:
        settings = _settings(TUTORIAL / "telegram-polling.env", api, monkeypatch)
        assert settings.public_url is None
        (adapter,) = await channel_adapters(settings)
        await adapter.start()
        await adapter.aclose()
    assert telegram.calls("deleteWebhook")
    assert telegram.calls("setWebhook") == []
