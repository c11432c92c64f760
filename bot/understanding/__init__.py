"""Understanding customers: intents that compete, "Did you mean ...?", an app's own
classifier (see `bot.understanding.feature`)."""

from __future__ import annotations

from bot.understanding.feature import Understanding

__all__ = ["Understanding"]
