"""Downloading a customer's file over HTTP from the platform's own host, with a size cap.

The adapters of platforms whose media are plain URLs (Twilio, Slack) use `download`: the URL
must be on the host the platform is configured at (its API base), never an address taken from
elsewhere; the body is read in chunks and refused once it passes the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession

from adapters.base import Fetched
from adapters.errors import FetchRefused

__all__ = ["download", "same_host"]

_CHUNK = 65536


def same_host(url: str, base: str) -> bool:
    """Whether `url` is http(s) on the scheme, host and port of `base`."""
    got, want = urlsplit(url), urlsplit(base)
    if got.scheme not in ("http", "https") or got.username or got.password:
        return False
    try:
        return (got.scheme, got.hostname, got.port) == (want.scheme, want.hostname, want.port)
    except ValueError:  # a port that is not a number
        return False


async def download(
    session: ClientSession,
    url: str,
    *,
    base: str,
    headers: Mapping[str, str],
    max_bytes: int,
) -> Fetched:
    """GET `url` (which must be on `base`'s host) with `headers`, at most `max_bytes`.

    Raises:
        FetchRefused: "foreign_host", "too_large" or "failed".
    """
    if not same_host(url, base):
        raise FetchRefused(
            f"the media URL is not on the platform's host {urlsplit(base).netloc}",
            reason="foreign_host",
        )
    try:
        async with session.get(url, headers=dict(headers), max_redirects=3) as response:
            if response.status != 200:
                raise FetchRefused(
                    f"the platform answered HTTP {response.status} for the file", reason="failed"
                )
            if response.content_length is not None and response.content_length > max_bytes:
                raise FetchRefused(
                    f"the file has {response.content_length} bytes, more than {max_bytes}",
                    reason="too_large",
                )
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise FetchRefused(f"the file is over {max_bytes} bytes", reason="too_large")
            mime = response.headers.get("Content-Type", "").split(";")[0].strip() or None
    except ClientError as exc:
        raise FetchRefused(f"could not download the file: {exc!r}", reason="failed") from None
    return Fetched(bytes(data), mime)
