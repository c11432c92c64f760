"""Channel-neutral prompts: what the bot says, before any adapter renders it.

A flow never writes Telegram keyboards or Slack blocks. It says a `Prompt` (text, choices,
media) and each adapter renders it for its channel: inline keyboard on Telegram, Block Kit
buttons on Slack, numbered options on SMS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Choice", "Media", "Prompt"]


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a question: a stable `value` the flow sees and a `label` people read.

    Example:
        >>> Choice("track", "Track my parcel")
    """

    value: str
    """What `ctx.ask` returns when this option is picked; stable across wording changes."""
    label: str = ""
    """What the customer sees; defaults to the value."""

    def __post_init__(self) -> None:
        if not self.value.strip():
            raise ValueError(
                "Choice value must be a non-empty string, e.g. Choice('track', 'Track')"
            )
        if not self.label:
            object.__setattr__(self, "label", self.value)


@dataclass(frozen=True, slots=True)
class Media:
    """A picture, document, audio or video, referred to by URL."""

    kind: str
    """One of "image", "document", "audio", "video", "other"."""
    url: str
    mime_type: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """One outbound message in channel-neutral form."""

    text: str
    choices: tuple[Choice, ...] = ()
    media: tuple[Media, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Free-form hints for adapters (e.g. {"request_contact": True} on Telegram)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form, as stored in the outbox."""
        data: dict[str, Any] = {"text": self.text}
        if self.choices:
            data["choices"] = [[c.value, c.label] for c in self.choices]
        if self.media:
            data["media"] = [[m.kind, m.url, m.mime_type, m.name] for m in self.media]
        if self.meta:
            data["meta"] = dict(self.meta)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prompt:
        """The inverse of `to_json`."""
        return cls(
            text=str(data.get("text", "")),
            choices=tuple(Choice(str(v), str(lbl)) for v, lbl in data.get("choices", ())),
            media=tuple(Media(k, u, t, n) for k, u, t, n in data.get("media", ())),
            meta=dict(data.get("meta", {})),
        )

    def choice_for(self, text: str) -> Choice | None:
        """The choice a typed reply selects: its number ("2") or its label or value, any case."""
        return match_choice(self.choices, text)


def match_choice(choices: Sequence[Choice], text: str) -> Choice | None:
    """Map a typed answer to one of `choices`: "2", "Track it" or "track" all select it."""
    wanted = " ".join(text.split()).strip().rstrip(".!").casefold()
    if not wanted:
        return None
    if wanted.isdigit():
        index = int(wanted) - 1
        return choices[index] if 0 <= index < len(choices) else None
    for choice in choices:
        if wanted in (choice.label.casefold(), choice.value.casefold()):
            return choice
    return None
