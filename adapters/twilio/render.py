"""Channel-neutral prompts -> SMS: pure functions, no I/O.

SMS has no buttons: choices become numbered lines ("1. Track it"), and a long text is split
into numbered parts ("(1/3) ...") of at most 1600 characters.
"""

from __future__ import annotations

from typing import Any

from adapters.base import Prompt, Rendered, choices_as_text, split_text
from adapters.twilio.parse import MAX_MEDIA
from dialogs.media import is_location

__all__ = ["MAX_BODY", "render_prompt"]

MAX_BODY = 1600
"""Twilio's limit on one message's Body."""


def render_prompt(prompt: Prompt) -> Rendered:
    """Plain text with numbered choices, split into numbered parts of <= 1600 characters.

    Media go with the first part (at most 10 per message; more get parts of their own).
    Each part is {"body": str, "media_url": [str, ...]}, and "kept": {location: [mime type,
    name]} for files Baton keeps (an agent's attachments).
    """
    text = prompt.text
    if prompt.choices:
        text = (
            f"{text}\n\n{choices_as_text(prompt.choices)}"
            if text
            else choices_as_text(prompt.choices)
        )
    bodies = _numbered_parts(text)
    urls = [m.url for m in prompt.media]
    parts: list[dict[str, Any]] = []
    for index, body in enumerate(bodies):
        media = urls[:MAX_MEDIA] if index == 0 else []
        parts.append({"body": body, "media_url": media})
    for start in range(MAX_MEDIA, len(urls), MAX_MEDIA):
        parts.append({"body": "", "media_url": urls[start : start + MAX_MEDIA]})
    kept = {m.url: [m.mime_type, m.name] for m in prompt.media if is_location(m.url)}
    if kept:  # files Baton keeps: `send` gives Twilio a signed URL to fetch each from
        for part in parts:
            part["kept"] = {url: kept[url] for url in part["media_url"] if url in kept}
    return Rendered(tuple(parts))


def _numbered_parts(text: str) -> list[str]:
    if len(text) <= MAX_BODY:
        return [text]
    count = 9
    while True:  # the "(i/n) " prefix length depends on how many parts there are
        room = MAX_BODY - len(f"({count}/{count}) ")
        chunks = split_text(text, room)
        if len(chunks) <= count:
            break
        count = count * 10 + 9
    return [f"({i}/{len(chunks)}) {chunk}" for i, chunk in enumerate(chunks, start=1)]
