"""The customer's language in a turn: taken from the platform or from what they write, kept
in their memory, and Baton's own texts sent in it (see `dialogs.languages`).

Runs in the `compose` slot, after the flows and the features that add replies (linking's
"Picking up where we left off ...") and before the handoff's `route`. A language a flow set
(`ctx.language = "nl"`) is never overridden; otherwise what the customer writes, when it
clearly is one of the bot's languages, wins over the platform's setting (Telegram's
`language_code`), which is only used while nothing else is known.

Texts sent outside a turn (an agent joined, the queue moved) go through `in_language`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import Inbound
from bot.engine.pipeline import Turn
from dialogs import App
from dialogs.languages import LANGUAGE_KEY, SOURCE_KEY, detect, language_in
from dialogs.prompts import Prompt

__all__ = ["in_language", "platform_language", "speak"]


def platform_language(inbound: Inbound) -> str | None:
    """The language the customer's app is set to, where the platform tells (Telegram)."""
    if inbound.channel != "telegram":
        return None
    raw = inbound.raw
    for key in ("message", "edited_message", "callback_query"):
        part = raw.get(key)
        if isinstance(part, Mapping):
            user = part.get("from")
            if isinstance(user, Mapping):
                code = user.get("language_code")
                if isinstance(code, str) and code:
                    return code.split("-", 1)[0].lower()[:8]
    return None


def _chosen(app: App, memory: Mapping[str, Any], inbound: Inbound) -> tuple[str, str] | None:
    """The (language, source) to keep for this customer, when it changes."""
    source = memory.get(SOURCE_KEY)
    current = memory.get(LANGUAGE_KEY)
    if source == "flow" or (current is not None and source is None):
        return None  # set by a flow (`ctx.language`, or an answer remembered as "language")
    known = set(app.languages.available())
    if app.languages.detect and inbound.text:
        written = detect(inbound.text)
        # Nothing kept means the default language: a customer who writes it changes nothing.
        if written is not None and written in known:
            return None if written == (current or app.languages.default) else (written, "text")
    if current is None:
        code = platform_language(inbound)
        if code is not None and code in known:
            return code, "platform"
    return None


def translate_prompt(app: App, prompt: Prompt, language: str) -> Prompt:
    """`prompt` in `language` (line by line for texts put together, such as "help")."""
    languages = app.languages
    done = languages.prompt(prompt, language, app.texts)
    if done.text == prompt.text and "\n" in prompt.text:
        lines = [
            languages.translate(line, language, app.texts) for line in prompt.text.split("\n")
        ]
        done = Prompt("\n".join(lines), done.choices, done.media, done.meta)
    return done


async def speak(turn: Turn) -> None:
    """Keep the customer's language up to date and send this turn's replies in it."""
    app = turn.app
    outcome = turn.outcome
    memory: Mapping[str, Any] = (
        outcome.memory if outcome is not None and outcome.memory is not None else turn.state.memory
    )
    chosen = _chosen(app, memory, turn.inbound)
    if chosen is not None and outcome is not None:
        memory = {**memory, LANGUAGE_KEY: chosen[0], SOURCE_KEY: chosen[1]}
        outcome.memory = dict(memory)
    language = chosen[0] if chosen is not None else language_in(memory, app.languages.default)
    if language == app.languages.default:
        return
    turn.replies[:] = [translate_prompt(app, reply, language) for reply in turn.replies]


def in_language(app: App, memory: Mapping[str, Any], text: str) -> str:
    """`text` (one of Baton's own) in the language kept in the customer's `memory`."""
    return app.languages.translate(text, language_in(memory, app.languages.default), app.texts)
