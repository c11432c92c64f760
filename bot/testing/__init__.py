"""A conversation test kit: one chat script that runs unchanged on Telegram, SMS and Slack.

`chat_on("telegram", app, database_url=...)` starts the platform's emulator on a loopback port,
a real Baton (storage, engine, outbox) serving `app` on another loopback port with that
channel's adapter pointed at the emulator, and yields a `ChatScript`: the customer's side of
the chat. `send` POSTs a real-format, correctly signed webhook through the emulator, `expect`
awaits the bot's next outbound API call at the emulator (no sleeping, no polling) and compares
the text as the customer sees it, and `choose` presses a button: a Telegram callback_query, a
Slack block_actions, or the option's number typed on SMS.

Example:
    >>> async with chat_on("twilio", app, database_url="sqlite+aiosqlite:///t.db") as chat:
    ...     await chat.send("where is my order")
    ...     await chat.expect("What's your name?")
    ...     await chat.send("Ada")
    ...     await chat.expect("Thanks, Ada. What's your order number?")

In a test suite the `chat` fixture comes with Baton (the pytest plugin `bot.testing.plugin`,
`baton_app = "module:app"` in the pytest configuration); `chat_fixture(app)` in `conftest.py`
makes one with other options. `running_baton` runs a Baton without any emulator, for tests
that drive the engine or the web channel directly. `chat_with_restarts` stops and starts
Baton mid-script on the same database while the emulator goes on (a deploy), and
`Running.advance(timedelta(days=2))` moves Baton's clock so timers fall due without waiting.

Modules: `server.py` (a running Baton), `chats.py` (`chat_on`, `chats_on`; the channels come
from the channel registry), `script.py` (`ChatScript`), `reply.py` (what the customer sees),
`mailbox.py` (the bot's messages per customer), `plugin.py` (the pytest plugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.testing.chats import CHANNELS, Restartable, chat_on, chat_with_restarts, chats_on
from bot.testing.reply import Conversation, Reply
from bot.testing.script import ChatScript
from bot.testing.server import Running, running_baton

if TYPE_CHECKING:
    from bot.testing.plugin import chat_fixture

__all__ = [
    "CHANNELS",
    "ChatScript",
    "Conversation",
    "Reply",
    "Restartable",
    "Running",
    "chat_fixture",
    "chat_on",
    "chat_with_restarts",
    "chats_on",
    "running_baton",
]


def __getattr__(name: str) -> Any:
    # The pytest plugin needs pytest; the rest of the kit runs without it (`chat_on`).
    if name == "chat_fixture":
        from bot.testing.plugin import chat_fixture

        return chat_fixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
