"""Media answers: ask the customer for a photo, a file, a location or a contact.

`await ctx.ask("Send a photo of the damage", expect=Photo)` returns a `Photo`; `Document`
takes any file, `Location` a shared location and `Contact` a shared phone number. Each channel
offers its own way to answer where it has one (Telegram's share-location and share-contact
keyboards); an answer of another kind is refused with a re-prompt, and the question stays open.

Photos and documents are fetched by Baton when they arrive (`bot.media`): size and type checked,
the bytes kept by a file store, and `await photo.read()` returns them. `allowed(...)` is a
validator for size and type:

Example:
    >>> photo = await ctx.ask(
    ...     "Send a photo of the damage",
    ...     expect=Photo,
    ...     validate=allowed(types={"image/jpeg", "image/png"}, max_bytes=5_000_000),
    ... )
    >>> data = await photo.read()
    >>> spot = await ctx.ask("Where are you?", expect=Location)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from dialogs.errors import Invalid

__all__ = [
    "EXPECT_KEY",
    "Attachment",
    "Contact",
    "Document",
    "Location",
    "Photo",
    "allowed",
    "answer_as",
    "expect_name",
    "is_location",
    "read_location",
    "register_reader",
]

EXPECT_KEY = "expect"
"""The prompt's `meta` key saying what kind of answer a question expects ("photo", ...)."""

A = TypeVar("A", bound="Attachment")
_Reader = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the customer sent."""

    kind: str
    """"image", "document", "audio" or "video", as the channel said."""
    url: str
    """The platform's reference to it (a Telegram file id, a media URL)."""
    mime_type: str | None = None
    name: str | None = None
    size: int | None = None
    """Bytes, once fetched."""
    location: str | None = None
    """Where Baton keeps it (a file store's URI, e.g. "file:///var/baton/media/..."); None
    when it was not fetched."""
    file_id: int | None = None
    """Its row in the files table, once fetched."""

    async def read(self) -> bytes:
        """The file's bytes, from the store that keeps them.

        Raises:
            LookupError: The file was not fetched, or no reader knows its store.
        """
        if self.location is None:
            raise LookupError(
                "this file was not fetched: is the media feature on (bot.media.MediaIntake)?"
            )
        return await read_location(self.location)


class Photo(Attachment):
    """A picture (`expect=Photo`): an image, or an image sent as a file."""

    __slots__ = ()


class Document(Attachment):
    """A file of any kind (`expect=Document`)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location (`expect=Location`)."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Contact:
    """A shared phone number (`expect=Contact`), E.164 when it could be parsed."""

    phone: str


_NAMES: dict[type[Any], str] = {
    Photo: "photo",
    Document: "document",
    Location: "location",
    Contact: "contact",
}
_ASK_AGAIN = {
    "photo": "Please send a photo.",
    "document": "Please send a file.",
    "location": "Please share a location.",
    "contact": "Please share a phone number.",
}


def expect_name(expect: type[Any]) -> str:
    """ "photo", "document", "location" or "contact" for an `expect=` class.

    Raises:
        TypeError: Not one of `Photo`, `Document`, `Location`, `Contact`.
    """
    name = _NAMES.get(expect)
    if name is None:
        raise TypeError(f"expect= takes Photo, Document, Location or Contact, not {expect!r}")
    return name


def answer_as(name: str, answer: Mapping[str, Any]) -> Any:
    """The value an answer gives to a question expecting `name`; raises `Invalid`."""
    if name == "location":
        spot = answer.get("location")
        if not spot:
            raise Invalid(_ASK_AGAIN[name])
        return Location(float(spot[0]), float(spot[1]))
    if name == "contact":
        phone = answer.get("contact_phone")
        if not phone:
            raise Invalid(_ASK_AGAIN[name])
        return Contact(str(phone))
    kind: type[Attachment] = Photo if name == "photo" else Document
    for item in _attachments(answer, kind):
        if kind is Document or _is_picture(item):
            return item
    raise Invalid(_ASK_AGAIN[name])


def allowed(
    *, types: Collection[str] | None = None, max_bytes: int | None = None
) -> Callable[[A], A]:
    """A validator for a photo or document: its MIME type among `types` (a "image/*" entry
    takes any image) and its size at most `max_bytes`.

    Example:
        >>> scan = await ctx.ask("Send the invoice", expect=Document,
        ...                      validate=allowed(types={"application/pdf"}, max_bytes=10**7))
    """

    def check(item: A) -> A:
        mime = (item.mime_type or "").lower()
        if types is not None and not any(
            mime == t or (t.endswith("/*") and mime.startswith(t[:-1])) for t in types
        ):
            kinds = ", ".join(sorted(types))
            raise Invalid(f"That file type isn't accepted here. Please send one of: {kinds}.")
        if max_bytes is not None and item.size is not None and item.size > max_bytes:
            raise Invalid(
                f"That file is too large ({_megabytes(item.size)}); the limit is "
                f"{_megabytes(max_bytes)}."
            )
        return item

    return check


def register_reader(scheme: str, reader: _Reader) -> None:
    """Read files kept under `scheme` URIs with `reader` (a file store for object storage
    registers its own, e.g. "s3"); "file" is built in."""
    _READERS[scheme] = reader


def is_location(url: str) -> bool:
    """Whether `url` is where Baton keeps a file (a registered store's URI), not the
    platform's own reference or a web address."""
    return urlparse(url).scheme in _READERS


async def read_location(location: str) -> bytes:
    """The bytes Baton keeps at `location` (agents' attachments are sent this way).

    Raises:
        LookupError: No reader knows the location's store.
        OSError: The store could not read it.
    """
    scheme = urlparse(location).scheme
    reader = _READERS.get(scheme)
    if reader is None:
        raise LookupError(f"no reader for {scheme!r} files: see register_reader")
    return await reader(location)


def _attachments(answer: Mapping[str, Any], kind: type[A]) -> list[A]:
    files = answer.get("files")
    if files:
        return [
            kind(
                str(f.get("kind") or "document"),
                str(f.get("url") or ""),
                f.get("mime_type"),
                f.get("name"),
                f.get("size"),
                f.get("location"),
                f.get("id"),
            )
            for f in files
            if isinstance(f, Mapping) and f.get("location")
        ]
    return [kind(str(m[0]), str(m[1]), m[2], m[3]) for m in answer.get("media", ())]


def _is_picture(item: Attachment) -> bool:
    return item.kind == "image" or (item.mime_type or "").lower().startswith("image/")


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"


async def _read_local(location: str) -> bytes:
    path = Path(unquote(urlparse(location).path))
    return await asyncio.to_thread(path.read_bytes)


_READERS: dict[str, _Reader] = {"file": _read_local}
