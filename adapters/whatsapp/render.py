"""Channel-neutral prompts -> WhatsApp messages (through Twilio): pure functions, no I/O.

Choices become what WhatsApp allows in a session message: up to 3 quick-reply buttons (titles
of at most 20 characters), else a list picker of up to 10 items (24 characters each), else
numbered options as on SMS. Buttons and lists travel as Twilio Content (`twilio/quick-reply`,
`twilio/list-picker`); the adapter creates the Content and sends its ContentSid. A long text is
split as on SMS; an interactive body holds at most 1024 characters, so the text before it goes
first in parts of its own.

Each part is {"body": str, "media_url": [str, ...], "purpose": str} and, for choices shown as
buttons, "quick_reply" or "list": [[value, label], ...].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.base import Choice, Prompt, Rendered, split_text
from adapters.twilio import render_prompt as render_sms

__all__ = [
    "LIST_ITEM_MAX",
    "LIST_MAX",
    "MAX_BODY",
    "QUICK_REPLY_MAX",
    "QUICK_REPLY_TITLE_MAX",
    "interactive_kind",
    "render_prompt",
]

MAX_BODY = 1600
"""Twilio's limit on one WhatsApp message's Body."""
INTERACTIVE_BODY_MAX = 1024
QUICK_REPLY_MAX = 3
QUICK_REPLY_TITLE_MAX = 20
LIST_MAX = 10
LIST_ITEM_MAX = 24
_ID_MAX = 200
DEFAULT_PURPOSE = "reply"


def interactive_kind(choices: Sequence[Choice]) -> str | None:
    """ "quick_reply", "list" or None (numbered options) for `choices`."""
    if not choices or any(len(c.value) > _ID_MAX for c in choices):
        return None
    if len(choices) <= QUICK_REPLY_MAX and all(
        len(c.label) <= QUICK_REPLY_TITLE_MAX for c in choices
    ):
        return "quick_reply"
    if len(choices) <= LIST_MAX and all(len(c.label) <= LIST_ITEM_MAX for c in choices):
        return "list"
    return None


def render_prompt(prompt: Prompt) -> Rendered:
    """The parts of `prompt` on WhatsApp (see the module docstring). Pure."""
    purpose = str(prompt.meta.get("purpose") or DEFAULT_PURPOSE)
    kind = interactive_kind(prompt.choices)
    if kind is None or not prompt.text.strip():
        return Rendered(tuple({**part, "purpose": purpose} for part in render_sms(prompt).parts))
    chunks = split_text(prompt.text, INTERACTIVE_BODY_MAX)
    parts: list[dict[str, Any]] = []
    urls = [m.url for m in prompt.media]
    if urls:  # Content buttons carry no arbitrary media: the media go first, on their own
        parts.extend(
            {"body": "", "media_url": urls[start : start + 10], "purpose": purpose}
            for start in range(0, len(urls), 10)
        )
    parts.extend({"body": chunk, "media_url": [], "purpose": purpose} for chunk in chunks[:-1])
    parts.append(
        {
            "body": chunks[-1],
            "media_url": [],
            "purpose": purpose,
            kind: [[c.value, c.label] for c in prompt.choices],
        }
    )
    return Rendered(tuple(parts))
