"""Fixtures shared by all tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo import app as demo_app
from bot.testing import chat_fixture
from tests.support.databases import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: every test using it runs on SQLite and on PostgreSQL."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty SQLite database."""
    async with fresh_database("sqlite", tmp_path) as url:
        yield url


chat = chat_fixture(demo_app, database_fixture="database_url")
"""A customer chatting with the demo bot on Telegram, SMS and Slack, through the real SDKs and
the platform emulators, on SQLite and PostgreSQL. Pick channels with
`@pytest.mark.parametrize("chat", ["telegram"], indirect=True)`."""
