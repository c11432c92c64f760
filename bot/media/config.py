"""The media feature's configuration, from the BATON_MEDIA_* settings."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings

__all__ = ["MediaConfig"]


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """How files customers send are fetched and kept."""

    folder: str = "./baton-media"
    """Where `storage.LocalFolder` keeps them."""
    max_bytes: int = 10_000_000
    types: tuple[str, ...] = ("image/*", "application/pdf", "audio/*", "video/*", "text/plain")
    """Allowed MIME types; "image/*" takes any image."""
    fetch_seconds: float = 30.0
    """A download is given up after this long."""

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaConfig:
        """From BATON_MEDIA_FOLDER, _MAX_BYTES, _TYPES and _FETCH_SECONDS."""
        return cls(
            folder=settings.media_folder,
            max_bytes=settings.media_max_bytes,
            types=tuple(t.strip().lower() for t in settings.media_types.split(",") if t.strip()),
            fetch_seconds=settings.media_fetch_seconds,
        )

    def allows(self, mime_type: str | None) -> bool:
        """Whether files of `mime_type` are kept."""
        mime = (mime_type or "").split(";")[0].strip().lower()
        return bool(mime) and any(
            mime == t or (t.endswith("/*") and mime.startswith(t[:-1])) for t in self.types
        )
