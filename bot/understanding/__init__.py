"""Understanding customers: intents that compete, "Did you mean ...?", an app's own
classifier (`bot.understanding.feature`), the customer's language and Baton's texts in it
(`bot.understanding.languages`, `bot.understanding.catalogs`), and the optional LLM from the
settings (`llm_from_settings`). The flow API itself is in `dialogs` (`Intent`,
`dialogs.knowledge`, `dialogs.languages`, `dialogs.llm`)."""

from __future__ import annotations

from bot.understanding.feature import Understanding
from bot.understanding.languages import in_language
from bot.understanding.llm_settings import llm_from_settings

__all__ = ["Understanding", "in_language", "llm_from_settings"]
