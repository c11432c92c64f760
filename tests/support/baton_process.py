"""`baton run` as a real process on loopback, configured by BATON_* variables."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

__all__ = ["baton_process", "free_port", "process_env"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(tmp_path: Path, values: Mapping[str, str]) -> dict[str, str]:
    """This environment without BATON_* variables, a SQLite file in `tmp_path`, and `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env["PYTHONPATH"] = os.getcwd()
    env.update(values)
    return env


@asynccontextmanager
async def baton_process(
    tmp_path: Path, port: int, env: Mapping[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`baton run --port port`, serving /healthz when the block starts; killed at its end if
    it still runs. Its output is in `tmp_path / "baton-<port>.log"`."""
    log = (tmp_path / f"baton-{port}.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--port",
        str(port),
        env=process_env(tmp_path, env),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # until it serves (bounded)
                if proc.returncode is not None:
                    break
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("baton run did not start")
        if proc.returncode is not None:
            raise AssertionError(f"baton run exited with {proc.returncode}")
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        log.close()
