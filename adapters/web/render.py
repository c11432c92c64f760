"""A prompt as the local channels show it: a pure function, no I/O."""

from __future__ import annotations

from adapters.base import Prompt, Rendered

__all__ = ["render_prompt"]


def render_prompt(prompt: Prompt) -> Rendered:
    """One message: its text and its choices as `[value, label]` buttons; the names of any
    files, which the local channels cannot carry (`send` refuses them)."""
    part = {"text": prompt.text, "choices": [[c.value, c.label] for c in prompt.choices]}
    if prompt.media:
        part["files"] = [m.name or m.kind for m in prompt.media]
    return Rendered((part,))
