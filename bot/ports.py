"""Is the port free, and if not, which process holds it (read from /proc where it can be)."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

__all__ = ["port_problem"]


def port_problem(host: str, port: int) -> str | None:
    """None when `host`:`port` can be listened on; otherwise one line naming who holds it."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot listen on {host!r}: {exc.strerror or exc}; fix --host or BATON_HOST"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # Binding with SO_REUSEADDR fails only where a socket listens (a connection in
            # TIME_WAIT from a previous run does not count, as it does not for aiohttp).
            sock.bind(address)
        except OSError as exc:
            return in_use(host, port, exc)
    return None


def in_use(host: str, port: int, exc: OSError) -> str:
    """The line for a failed listen on `host`:`port`."""
    if exc.errno == errno.EADDRINUSE:
        holder = _holder(port)
        who = f" by {holder}" if holder else ""
        return (
            f"port {port} on {host} is already in use{who}; stop it, or start on another "
            f"port: --port {port + 1 if port < 65535 else 8081} (or BATON_PORT)"
        )
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} needs more privileges; use a port above 1023 (--port)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}; fix --host/--port"


def _holder(port: int) -> str | None:
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return f"process {proc.name} ({_command(proc)})"
    return None


def _listening_inodes(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    found.add(inode)
    return found


def _command(proc: Path) -> str:
    try:
        words = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "unknown"
    text = " ".join(w.decode(errors="replace") for w in words if w)
    return text[:80] or "unknown"
