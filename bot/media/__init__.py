"""Files customers send, fetched and kept, as one feature of the engine.

- `intake`: the `MediaIntake` feature: before the flows see a message, each file in it is
  downloaded through its channel's adapter (`adapters.base.Fetcher`), checked for size and
  type, kept by the file store and recorded in `media_files` with the customer's id; a refused
  file is recorded with its reason and the customer told why;
- `config`: `MediaConfig` (folder, limit, types, download timeout) from the settings;
- `texts`: what customers read when a file is refused.

Files live in a `storage.FileStore`: `storage.LocalFolder` (BATON_MEDIA_FOLDER) by default. For
object storage, give `MediaIntake` a store of your own with the same three methods.
"""

from __future__ import annotations

from bot.media.config import MediaConfig
from bot.media.intake import MediaIntake

__all__ = ["MediaConfig", "MediaIntake"]
