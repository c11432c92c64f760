"""The pytest plugin of the test kit: a `chat` fixture in any project with Baton installed.

Baton registers this module as a pytest plugin (entry point `pytest11`, name "baton"), so a test
that asks for `chat` gets a `ChatScript` with no conftest code, once per emulated channel
(Telegram, SMS, Slack), on a fresh SQLite database. The bot is `bot.demo:app` unless the
project names its own in its pytest configuration:

    [tool.pytest.ini_options]
    baton_app = "shop.bot:app"

For another database or other settings, make your own fixture with `chat_fixture` in
`conftest.py`; a fixture of the same name there replaces this one. Needs pytest-asyncio.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.testing.chats import CHANNELS, chat_on

if TYPE_CHECKING:
    from bot.testing.script import ChatScript
    from dialogs import App

__all__ = ["chat", "chat_fixture", "pytest_addoption"]

_APP_OPTION = "baton_app"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The `baton_app` setting: the bot the `chat` fixture runs, as "module:attribute"."""
    parser.addini(
        _APP_OPTION,
        "The bot the `chat` fixture runs, as module:attribute (default: bot.demo:app)",
        default="bot.demo:app",
    )


def chat_fixture(
    app: App,
    *,
    name: str = "chat",
    database_fixture: str | None = None,
    **settings: object,
) -> Any:
    """A pytest fixture yielding a `ChatScript` for `app`, once per channel.

    Put it in `conftest.py`. A test that asks for `chat` runs on each emulated channel;
    pick some with `@pytest.mark.parametrize("chat", ["telegram", "slack"], indirect=True)`.
    Each test gets a fresh SQLite database, or, with `database_fixture`, the URL that fixture
    yields (so a fixture parametrised over databases runs each chat test on each of them).
    Needs pytest-asyncio.

    With `filterwarnings = ["error"]`, also ignore the twilio SDK's use of a deprecated aiohttp
    API: `"ignore::DeprecationWarning:twilio.*"`.

    Args:
        app: The bot under test.
        name: The fixture's name.
        database_fixture: The name of a fixture yielding a database URL; a fresh SQLite file
            per test when None.
        **settings: Passed to `chat_on`.

    Example:
        >>> # conftest.py
        >>> from bot.testing import chat_fixture
        >>> from shop.bot import app
        >>> chat = chat_fixture(app)
    """
    import pytest_asyncio

    options: dict[str, Any] = dict(settings)

    async def chat(**fixtures: Any) -> AsyncIterator[ChatScript]:
        request: pytest.FixtureRequest = fixtures["request"]
        if database_fixture is None:
            database_url = f"sqlite+aiosqlite:///{fixtures['tmp_path'] / 'chat.db'}"
        else:
            database_url = str(fixtures[database_fixture])
        async with chat_on(
            str(request.param), app, database_url=database_url, **options
        ) as script:
            yield script

    # pytest reads a fixture's dependencies from its signature: name the database fixture.
    needs = ["request", "tmp_path" if database_fixture is None else database_fixture]
    chat.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY) for arg in needs]
    )
    return pytest_asyncio.fixture(chat, name=name, params=list(CHANNELS), ids=list(CHANNELS))


def _chat() -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # the plugin loads wherever Baton is installed; chat needs it

        @pytest.fixture(params=list(CHANNELS), ids=list(CHANNELS), name="chat")
        def needs_pytest_asyncio() -> Any:
            raise pytest.UsageError(
                "the chat fixture needs pytest-asyncio: pip install pytest-asyncio"
            )

        return needs_pytest_asyncio

    @pytest_asyncio.fixture(params=list(CHANNELS), ids=list(CHANNELS), name="chat")
    async def chat(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChatScript]:
        from bot.app import load_app

        app: App = load_app(str(request.config.getini(_APP_OPTION)))
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
        async with chat_on(str(request.param), app, database_url=database_url) as script:
            yield script

    return chat


chat = _chat()
"""A customer chatting with the `baton_app` bot, once per emulated channel (a fresh SQLite
database each)."""
