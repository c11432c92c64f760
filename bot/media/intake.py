"""The `MediaIntake` feature: each file a customer sends is fetched, checked and kept before the
flows see the message.

In the intercept slot of a turn (see `bot.engine.pipeline`), for each file of the message whose
channel's adapter can fetch (`adapters.base.Fetcher`):

1. download it through the adapter, within `MediaConfig.fetch_seconds` (`asyncio.timeout`) and
   at most `max_bytes` (the adapter stops reading past it; Twilio and Slack URLs are fetched
   only from the platform's configured host);
2. check its type against `MediaConfig.types`;
3. keep the bytes in the file store and record a `media_files` row with the customer's id.

What the flow sees (`turn.answer`, journaled and stored with the message) gains "files": the
kept files, each {"id", "kind", "url", "mime_type", "name", "size", "location"}; `ask(...,
expect=Photo)` answers from them and `await photo.read()` returns the bytes. A refused file is
recorded with its reason ("too_large", "type", "timeout", "failed", "foreign_host"), the
customer is told, and when nothing else came with it the flows do not see the message, so an
open question stays open.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from adapters.base import Adapter, Fetched, Fetcher, Media
from adapters.errors import FetchRefused
from bot.engine.pipeline import Slot, Turn
from bot.media import texts
from bot.media.config import MediaConfig
from dialogs.prompts import Prompt
from storage import FileStore, LocalFolder, MediaFiles

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder

__all__ = ["MediaIntake"]

log = logging.getLogger("baton.media")

_MAX_FILES = 10
"""Files handled per message (Twilio's own limit); more are ignored."""


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class MediaIntake:
    """Fetches, checks and keeps the files customers send (see the module docstring).

    Args:
        config: Limits, types, timeout and the default folder.
        files: Where the bytes go; a `LocalFolder` at `config.folder` when None.
    """

    def __init__(
        self, config: MediaConfig | None = None, *, files: FileStore | None = None
    ) -> None:
        self.config = config or MediaConfig()
        self.files: FileStore = files or LocalFolder(self.config.folder)
        self._adapters: Mapping[str, Adapter] = {}
        self._rows: MediaFiles | None = None

    def install(self, builder: EngineBuilder) -> None:
        """Fetch files before the flows, in the intercept slot."""
        self._adapters = builder.adapters
        self._rows = MediaFiles(builder.store)
        builder.stage(Slot.INTERCEPT, self.intake)

    async def start(self, engine: Engine) -> None:
        """Nothing runs in the background."""

    async def stop(self) -> None:
        """Nothing to stop."""

    @property
    def rows(self) -> MediaFiles:
        """The `media_files` rows (once installed)."""
        if self._rows is None:
            raise RuntimeError("MediaIntake is not installed in an engine")
        return self._rows

    async def intake(self, turn: Turn) -> None:
        """Fetch and keep the files of `turn`'s message (see the module docstring)."""
        inbound = turn.inbound
        if not inbound.media or not turn.flows:
            return
        adapter = self._adapters.get(inbound.channel)
        if adapter is None or not callable(getattr(adapter, "fetch", None)):
            return  # a channel that cannot fetch: the files stay the platform's references
        fetcher = cast(Fetcher, adapter)
        kept: list[dict[str, Any]] = []
        refusals: list[tuple[str, str | None]] = []
        for media in inbound.media[:_MAX_FILES]:
            try:
                kept.append(await self._keep(turn, fetcher, media))
            except _Refused as refused:
                refusals.append((refused.reason, media.mime_type))
                await self.rows.record(
                    customer_id=turn.customer_id,
                    channel=inbound.channel,
                    direction="in",
                    platform_ref=media.url[:2000],
                    kind=media.kind,
                    mime_type=(media.mime_type or "")[:255] or None,
                    name=media.name,
                    status="refused",
                    reason=f"{refused.reason}: {refused}"[:1000],
                )
                log.warning(
                    "customer %s: a %s file on %s was refused (%s): %s",
                    turn.customer_id,
                    media.kind,
                    inbound.channel,
                    refused.reason,
                    refused,
                )
        if kept:
            turn.answer["files"] = kept
        if refusals:
            reason, mime = refusals[0]
            turn.replies.append(
                Prompt(texts.refused(reason, limit=self.config.max_bytes, mime=mime))
            )
            if not kept and not (inbound.text or "").strip():
                turn.flows = False  # the question waits for a file that can be kept

    async def _keep(self, turn: Turn, adapter: Fetcher, media: Media) -> dict[str, Any]:
        config = self.config
        try:
            async with asyncio.timeout(config.fetch_seconds):
                fetched: Fetched = await adapter.fetch(media, max_bytes=config.max_bytes)
        except FetchRefused as exc:
            raise _Refused(exc.reason, str(exc)) from None
        except TimeoutError:
            raise _Refused(
                "timeout", f"no file after {config.fetch_seconds:g}s from {turn.inbound.channel}"
            ) from None
        data = fetched.data
        if len(data) > config.max_bytes:
            raise _Refused("too_large", f"{len(data)} bytes, more than {config.max_bytes}")
        mime = (media.mime_type or fetched.mime_type or "").split(";")[0].strip().lower()
        if not config.allows(mime):
            raise _Refused("type", f"{mime or 'no type'} is not among {', '.join(config.types)}")
        suffix = mimetypes.guess_extension(mime) or ""
        location = await self.files.put(turn.customer_id, data, suffix=suffix)
        file_id = await self.rows.record(
            customer_id=turn.customer_id,
            channel=turn.inbound.channel,
            direction="in",
            platform_ref=media.url[:2000],
            kind=media.kind,
            mime_type=mime[:255],
            name=media.name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            location=location,
            status="stored",
        )
        return {
            "id": file_id,
            "kind": media.kind,
            "url": media.url,
            "mime_type": mime,
            "name": media.name,
            "size": len(data),
            "location": location,
        }
