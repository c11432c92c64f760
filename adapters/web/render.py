"""A prompt as the local channels show it: a pure function, no I/O."""

from __future__ import annotations

from adapters.base import Prompt, Rendered

__all__ = ["render_prompt"]


def render_prompt(prompt: Prompt) -> Rendered:
    """One message: its text and its choices as `[value, label]` buttons."""
    return Rendered(
        ({"text": prompt.text, "choices": [[c.value, c.label] for c in prompt.choices]},)
    )
