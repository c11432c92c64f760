"""The adapter protocol and the normalised types every channel shares.

An adapter owns one channel: it verifies and parses the platform's webhooks into `Inbound`
messages, renders channel-neutral `Prompt`s, and sends them through the platform's official
SDK. Adding a channel is one new package under `adapters/` (`parse.py` and `render.py`, pure;
`adapter.py` implementing `Adapter`; `channel.py` with its `Channel` descriptor) plus its entry
in `adapters.registry`: settings, the sandbox, the test kit and the names customers read follow
from the registry, and the engine never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from aiohttp import web

from dialogs.prompts import Choice, Media, Prompt

__all__ = [
    "Adapter",
    "Address",
    "Choice",
    "DeliveryUpdate",
    "Fetched",
    "Fetcher",
    "Inbound",
    "Limits",
    "Location",
    "Media",
    "Prompt",
    "Rendered",
    "Sent",
    "Sink",
]


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Inbound:
    """One customer message, the same shape on every channel."""

    channel: str
    """One of "telegram", "twilio", "slack", "web", "shell"."""
    message_id: str
    """The platform's id; (channel, message_id) is the inbox dedupe key."""
    identity: str
    """Telegram user id, E.164 number, or "T0123:U0456" for Slack."""
    text: str | None = None
    choice: str | None = None
    """The value of a pressed button."""
    media: tuple[Media, ...] = ()
    contact_phone: str | None = None
    """A shared phone number, E.164 when it could be parsed."""
    contact_is_own: bool = False
    """True only when the platform proves the contact is the sender's own (Telegram user_id)."""
    location: Location | None = None
    route: str | None = None
    """Where replies go on this channel when it differs from `identity` (Slack DM channel)."""
    display_name: str | None = None
    control: str | None = None
    """A channel control word handled by the engine, not by flows: "opt_out", "opt_in", "help"."""
    start_payload: str | None = None
    """A deep-link payload, e.g. Telegram `/start <payload>`."""
    edited: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in the inbox (raw payload included, for audit and replay)."""
        data: dict[str, Any] = {
            "channel": self.channel,
            "message_id": self.message_id,
            "identity": self.identity,
        }
        for name in (
            "text",
            "choice",
            "contact_phone",
            "route",
            "display_name",
            "control",
            "start_payload",
        ):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.contact_is_own:
            data["contact_is_own"] = True
        if self.edited:
            data["edited"] = True
        if self.media:
            data["media"] = [[m.kind, m.url, m.mime_type, m.name] for m in self.media]
        if self.location is not None:
            data["location"] = [self.location.latitude, self.location.longitude]
        if self.raw:
            data["raw"] = dict(self.raw)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Inbound:
        """The inverse of `to_json`."""
        loc = data.get("location")
        return cls(
            channel=data["channel"],
            message_id=data["message_id"],
            identity=data["identity"],
            text=data.get("text"),
            choice=data.get("choice"),
            media=tuple(Media(k, u, t, n) for k, u, t, n in data.get("media", ())),
            contact_phone=data.get("contact_phone"),
            contact_is_own=bool(data.get("contact_is_own", False)),
            location=Location(loc[0], loc[1]) if loc else None,
            route=data.get("route"),
            display_name=data.get("display_name"),
            control=data.get("control"),
            start_payload=data.get("start_payload"),
            edited=bool(data.get("edited", False)),
            raw=data.get("raw", {}),
        )


@dataclass(frozen=True, slots=True)
class Address:
    """Where a reply goes: a channel identity and, where the channel needs it, a route."""

    channel: str
    identity: str
    route: str | None = None
    last_inbound: float | None = None
    """When the customer last wrote from this identity (epoch seconds), given by the outbox to
    channels with a `Limits.reply_window`; None when not looked up or never."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a channel can show; the adapter that owns the channel declares them."""

    max_text: int
    """Longest text of one platform message; longer text is split by the adapter."""
    max_choices: int
    """Most buttons shown as buttons; more are listed as numbered text."""
    buttons: bool
    """Whether choices can be buttons at all (SMS: no)."""
    reply_window: float | None = None
    """Seconds after the customer's last message during which any message may be sent; after
    it the platform takes only pre-approved templates. None: no such window. The outbox gives
    such a channel's `send` the customer's last inbound time in `Address.last_inbound`."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A prompt rendered for one channel: one or more platform messages, sent in order."""

    parts: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Sent:
    """What the platform answered to a send."""

    platform_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A delivery receipt from the platform (Twilio status callback)."""

    channel: str
    platform_id: str
    status: str
    """"sent", "delivered", "failed", "undelivered", "read", ..."""
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """The bytes of a file a customer sent, as the platform gave them."""

    data: bytes
    mime_type: str | None = None
    """The type the platform's download said (Content-Type), if any."""


class Fetcher(Protocol):
    """An adapter that can download the files its customers send (an optional part of
    `Adapter`: Telegram's getFile, Twilio's media URLs, Slack's url_private)."""

    async def fetch(self, media: Media, *, max_bytes: int) -> Fetched:
        """Download `media` through the platform, at most `max_bytes`.

        Raises:
            FetchRefused: larger than `max_bytes` ("too_large"), a URL not on the platform's
                configured API host ("foreign_host"), or the platform refused ("failed").
        """
        ...


class Sink(Protocol):
    """What adapters hand verified, parsed input to; the engine implements it."""

    async def receive(self, messages: Sequence[Inbound]) -> list[bool]:
        """Commit `messages` durably to the inbox; return True for each new one.

        Returns only after the commit, so a webhook acknowledged after this call never
        loses the message. A repeated (channel, message_id) returns False and does nothing.
        """
        ...

    async def delivery_status(self, update: DeliveryUpdate) -> None:
        """Record a delivery receipt on the outbound message it concerns."""
        ...


class Adapter(Protocol):
    """One channel: verify and parse webhooks, render prompts, send through the SDK."""

    channel: ClassVar[str]
    limits: ClassVar[Limits]

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """The aiohttp routes of this channel's webhooks, handing input to `sink`."""
        ...

    async def start(self) -> None:
        """Connect: check credentials, register a webhook or start polling."""
        ...

    def render(self, prompt: Prompt) -> Rendered:
        """Render `prompt` for this channel. Pure: no I/O."""
        ...

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Send `rendered` to `to`; raises `SendError`, `RateLimited` or `Unreachable`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` characters, at paragraph, line or word ends."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def choices_as_text(choices: Sequence[Choice]) -> str:
    """Numbered options, as shown where buttons are not available."""
    return "\n".join(f"{i}. {c.label}" for i, c in enumerate(choices, start=1))
