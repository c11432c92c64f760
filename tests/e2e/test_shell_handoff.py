"""`baton shell` builds the same turn pipeline as `baton run`: a handoff started in the shell
has its handoff row (reason, summary, reply-by deadline) at once, for the console to show."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from storage import ConsoleStore, open_store


async def test_asking_for_a_person_in_the_shell_opens_a_handoff_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"
    env = {**os.environ, "BATON_DATABASE_URL": url, "BATON_SANDBOX": "false"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "shell",
        "--user",
        "ada",
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(b"hi\nagent\n"), 60)
    said = out.decode()
    assert proc.returncode == 0, said
    assert "place" in said.lower() or "queue" in said.lower(), said

    store = await open_store(url)
    try:
        handoffs = await ConsoleStore(store).open_handoffs()
    finally:
        await store.close()
    assert len(handoffs) == 1
    opened = handoffs[0]
    assert opened["status"] == "waiting"
    assert opened["reason"] == "customer asked for a person"
    assert opened["deadline_at"] > opened["created_at"]
