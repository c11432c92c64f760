"""File stores: where the bytes of customers' files are kept (the rows are in `media_files`).

A store is small: `put` bytes and get back a location (a URI the store understands), `read` and
`delete` by location. `LocalFolder` (the default) keeps files under one folder, one
sub-folder per customer, named by their SHA-256. For object storage write a class with the same
three methods (e.g. an S3 bucket through aioboto3: `put` uploads to
"s3://bucket/<customer>/<sha256>", `read` downloads, `delete` deletes), pass it to the media
feature, and register its reader for flows (`dialogs.media.register_reader("s3", store.read)`).

Example:
    >>> files = LocalFolder("./baton-media")
    >>> where = await files.put(7, b"...", suffix=".jpg")
    >>> assert await files.read(where) == b"..."
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

__all__ = ["FileStore", "LocalFolder"]


class FileStore(Protocol):
    """Keeps file bytes; the `media_files` rows say which customer each belongs to."""

    async def put(self, customer_id: int, data: bytes, *, suffix: str = "") -> str:
        """Keep `data` for `customer_id`; returns its location (a URI)."""
        ...

    async def read(self, location: str) -> bytes:
        """The bytes at `location`; raises `FileNotFoundError`."""
        ...

    async def delete(self, location: str) -> None:
        """Forget the bytes at `location` (gone already: nothing happens)."""
        ...


class LocalFolder:
    """Files under `root`: `<root>/<customer id>/<sha256><suffix>`, as "file://" URIs."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    async def put(self, customer_id: int, data: bytes, *, suffix: str = "") -> str:
        """Write `data` (atomically: a temporary file renamed) and return its file URI."""
        digest = hashlib.sha256(data).hexdigest()
        safe = suffix if suffix.startswith(".") and suffix[1:].isalnum() else ""
        path = self.root / str(int(customer_id)) / f"{digest}{safe[:9]}"
        await asyncio.to_thread(_write, path, data)
        return path.as_uri()

    async def read(self, location: str) -> bytes:
        """The file's bytes."""
        return await asyncio.to_thread(self._path(location).read_bytes)

    async def delete(self, location: str) -> None:
        """Remove the file."""
        await asyncio.to_thread(self._path(location).unlink, missing_ok=True)

    def _path(self, location: str) -> Path:
        parsed = urlparse(location)
        path = Path(unquote(parsed.path)).resolve()
        if parsed.scheme != "file" or self.root not in path.parents:
            raise FileNotFoundError(f"{location!r} is not in {self.root}")
        return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return  # the same bytes (named by their hash) are kept already
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)
