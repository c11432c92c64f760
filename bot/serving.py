"""Where a running `baton run` of a database can be found, so `baton shell` can join it.

SQLite serves one engine process, so while `baton run` serves a SQLite file the shell talks to
that server over its web chat API instead of running an engine of its own. The server writes its
URL into the SQLite lock file (`baton.db.lock`) once it serves; its `/healthz` names the database
it serves by a fingerprint (never the URL or its password), so the shell only joins a server of
its own database. On PostgreSQL the shell looks at `BATON_PUBLIC_URL` and the server's own
address (`BATON_HOST`, `BATON_PORT`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import aiohttp
from sqlalchemy.engine import make_url

from bot.settings import Settings

__all__ = ["announce", "database_fingerprint", "find_server"]


def database_fingerprint(url: str) -> str:
    """A short hash naming the database at `url` (its password left out)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = f"sqlite:{os.path.abspath(parsed.database or '')}"
    else:
        name = f"postgresql:{parsed.host}:{parsed.port or 5432}/{parsed.database}"
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _lock_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(f"{os.path.abspath(parsed.database or '')}.lock")


def announce(database_url: str, server_url: str) -> None:
    """Write where the server of this SQLite database is (nothing for PostgreSQL)."""
    path = _lock_file(database_url)
    if path is not None:
        with contextlib.suppress(OSError):
            path.write_text(server_url + "\n")


async def find_server(settings: Settings) -> str | None:
    """The URL of a running server of this database, or None."""
    candidates: list[str] = []
    path = _lock_file(settings.database_url)
    if path is not None:
        with contextlib.suppress(OSError):
            candidates.append(path.read_text().strip())
    if settings.public_url:
        candidates.append(settings.public_url)
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(
        settings.host, settings.host
    )
    candidates.append(f"http://{host}:{settings.port}")
    wanted = database_fingerprint(settings.database_url)
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for url in dict.fromkeys(c.rstrip("/") for c in candidates if c):
            try:
                async with http.get(f"{url}/healthz") as response:
                    health = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                continue
            if isinstance(health, dict) and health.get("database") == wanted:
                return url
    return None
