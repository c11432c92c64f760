"""Follow-up's settings refuse what cannot work, with the variable named."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


def test_webhooks_need_urls_and_a_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_WEBHOOK_URLS", '["ftp://crm.example.com/hook"]')
    with pytest.raises(SettingsError, match=r"BATON_WEBHOOK_URLS.*http:// or https://"):
        load_settings()
    monkeypatch.setenv("BATON_WEBHOOK_URLS", '["https://crm.example.com/hook"]')
    with pytest.raises(SettingsError, match="needs BATON_WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", "short")
    with pytest.raises(SettingsError, match=r"BATON_WEBHOOK_SECRET.*16 characters"):
        load_settings()
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", "a-long-random-secret")
    assert load_settings().webhook_urls == ["https://crm.example.com/hook"]


def test_survey_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SURVEY_KINDS", '["csat", "stars"]')
    with pytest.raises(SettingsError, match="BATON_SURVEY_KINDS"):
        load_settings()
    monkeypatch.setenv("BATON_SURVEY_KINDS", '["nps", "ces"]')
    monkeypatch.setenv("BATON_SURVEY_AFTER", "sometimes")
    with pytest.raises(SettingsError, match="BATON_SURVEY_AFTER"):
        load_settings()
    monkeypatch.setenv("BATON_SURVEY_AFTER", "both")
    settings = load_settings()
    assert (settings.survey_kinds, settings.survey_after) == (["nps", "ces"], "both")
