"""Channel-neutral prompts -> Slack Block Kit messages: pure functions, no I/O."""

from __future__ import annotations

from typing import Any

from adapters.base import Choice, Prompt, Rendered, choices_as_text, split_text
from dialogs.media import is_location

__all__ = ["MAX_BUTTONS", "MESSAGE_TEXT", "escape", "render"]

_SECTION_TEXT = 3000  # Slack's limit on a section block's text
MESSAGE_TEXT = 40_000
"""Slack's limit on a message's text."""
_SECTIONS_PER_MESSAGE = MESSAGE_TEXT // _SECTION_TEXT  # 13 sections, well under 50 blocks
_BUTTONS_PER_BLOCK = 25  # Slack's limit on the elements of an actions block
_BUTTON_LABEL = 75  # Slack's limit on a button's text
MAX_BUTTONS = 100
"""Most choices shown as buttons; more are listed as numbered text."""


def escape(text: str) -> str:
    """Escape `&`, `<` and `>` so text cannot form Slack mentions, links or commands."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(prompt: Prompt) -> Rendered:
    """Render `prompt` as Slack messages: `{"text": fallback, "blocks": [...]}` each.

    The text is escaped and split into sections of at most 3,000 characters, at most 13 per
    message (under 40,000 characters). The last message carries the buttons, 25 per actions
    block, with action_id "choice:<index>" and the choice's value; beyond 100 choices they are
    listed as numbered text instead. Files Baton keeps (an agent's attachments) become a last
    part {"upload": [[location, name, mime type], ...]} that `send` uploads (files_upload_v2);
    other media are linked in the text.
    """
    text = prompt.text
    choices = prompt.choices
    kept = [m for m in prompt.media if is_location(m.url)]
    linked = [m for m in prompt.media if not is_location(m.url)]
    if linked:
        text = "\n".join(
            [text, *(f"{m.name}: {m.url}" if m.name else m.url for m in linked)]
        ).strip()
    if len(choices) > MAX_BUTTONS:
        text = f"{text}\n\n{choices_as_text(choices)}".strip()
        choices = ()
    sections = _escaped_parts(text, _SECTION_TEXT) if text.strip() else []
    groups = [
        sections[i : i + _SECTIONS_PER_MESSAGE]
        for i in range(0, len(sections), _SECTIONS_PER_MESSAGE)
    ]
    if not groups and choices:
        groups = [[]]
    parts: list[dict[str, Any]] = []
    for number, group in enumerate(groups):
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}} for section in group
        ]
        fallback = "\n".join(group)
        if number == len(groups) - 1 and choices:
            blocks.extend(_actions_blocks(choices))
            fallback = fallback or escape(choices_as_text(choices))
        parts.append({"text": fallback, "blocks": blocks})
    if kept:  # files Baton keeps (an agent's attachments): `send` uploads them
        parts.append(
            {
                "upload": [
                    [m.url, m.name or f"file-{i}", m.mime_type] for i, m in enumerate(kept, 1)
                ]
            }
        )
    return Rendered(tuple(parts))


def _escaped_parts(text: str, limit: int) -> list[str]:
    """`text` split into escaped parts of at most `limit` characters each."""
    parts: list[str] = []
    for chunk in split_text(text, limit):
        escaped = escape(chunk)
        if len(escaped) <= limit:
            parts.append(escaped)
        else:  # escaping lengthened it; "&" -> "&amp;" grows at most five-fold
            parts.extend(escape(piece) for piece in split_text(chunk, limit // 5))
    return parts


def _actions_blocks(choices: tuple[Choice, ...]) -> list[dict[str, Any]]:
    blocks = []
    for start in range(0, len(choices), _BUTTONS_PER_BLOCK):
        elements = [
            {
                "type": "button",
                "action_id": f"choice:{index}",
                "text": {"type": "plain_text", "text": _label(choice.label), "emoji": True},
                "value": choice.value,
            }
            for index, choice in enumerate(choices[start : start + _BUTTONS_PER_BLOCK], start)
        ]
        block_id = "choices" if start == 0 else f"choices-{start // _BUTTONS_PER_BLOCK}"
        blocks.append({"type": "actions", "block_id": block_id, "elements": elements})
    return blocks


def _label(label: str) -> str:
    return label if len(label) <= _BUTTON_LABEL else label[: _BUTTON_LABEL - 1] + "…"
