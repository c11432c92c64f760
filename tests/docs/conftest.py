"""The tutorial's tests chat with the tutorial's bot, as `baton_app = "flows:app"` makes a
reader's project do."""

from __future__ import annotations

from bot.testing import chat_fixture
from examples.tutorial.flows import app

chat = chat_fixture(app)
