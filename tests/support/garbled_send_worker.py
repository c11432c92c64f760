"""A send process that answers each request after a burst of garbage on the pipe.

`python -m tests.support.garbled_send_worker`, started by `SendProcesses` in place of the real
worker (tests monkeypatch `bot.engine.send_process.WORKER_MODULE`): the server must log and
skip what is not an answer to a send in flight, and still deliver.
"""

from __future__ import annotations

import json
import sys

from bot.engine.send_process import encode, frame


def _read(stream: object) -> bytes | None:
    read = stream.read  # type: ignore[attr-defined]
    head = read(4)
    if len(head) < 4:
        return None
    body: bytes = read(int.from_bytes(head, "big"))
    return body


def main() -> int:
    """Read the hello and the adapters, then answer every request with garbage first."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    if _read(stdin) is None or _read(stdin) is None:
        return 0
    stdout.write(encode({"ready": ["echo"]}))
    stdout.flush()
    while (body := _read(stdin)) is not None:
        request = json.loads(body)
        if request.get("cancel"):
            continue
        rid = request["id"]
        for junk in (
            frame(b"\xff not json"),
            frame(b"[1, 2, 3]"),
            encode({"no": "id"}),
            encode({"id": "seven", "ids": []}),
            encode({"id": 10**9, "ids": ["nobody asked"]}),
            encode({"ready": ["again"]}),
        ):
            stdout.write(junk)
        stdout.write(encode({"id": rid, "ids": [f"garbled-{rid}"]}))
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
