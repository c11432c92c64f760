"""`baton agent add EMAIL --name NAME --role agent|admin`: accounts for the console.

The password is asked twice (not echoed) on a terminal; leave it empty, pass
`--generate-password`, or run without a terminal to get a generated one, shown once.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import re
import sys
from typing import Any

from bot.settings import Settings

__all__ = ["add_agent_parser", "run_agent_command"]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_MIN_PASSWORD = 12


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def add_agent_parser(subparsers: Any) -> None:
    """Add `baton agent ...` to the CLI's subcommands."""
    agent = subparsers.add_parser(
        "agent",
        help="manage the people who use the console",
        description="Manage the people who use the console.",
    )
    commands = agent.add_subparsers(dest="agent_command", required=True)
    add = commands.add_parser(
        "add",
        help="create a console account",
        description="Create an account for the console at /console. The password is asked "
        "(twice), or generated and shown once.",
    )
    add.add_argument("email", help="their email; they log in with it")
    add.add_argument("--name", required=True, help="the name customers and colleagues see")
    add.add_argument(
        "--role",
        choices=["agent", "admin"],
        default="agent",
        help="admins manage agents and see every conversation (default: agent)",
    )
    add.add_argument(
        "--generate-password",
        action="store_true",
        help="generate a strong password and show it once instead of asking",
    )


def _ask_password() -> str | None:
    """A password typed twice, or None for a generated one."""
    while True:
        first = getpass.getpass(
            f"Password (at least {_MIN_PASSWORD} characters; empty: generate): "
        )
        if not first:
            return None
        if len(first) < _MIN_PASSWORD:
            _err(f"baton: use at least {_MIN_PASSWORD} characters")
            continue
        if getpass.getpass("Again: ") != first:
            _err("baton: the passwords differ; try again")
            continue
        return first


async def run_agent_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `baton agent ...`; returns the exit status."""
    from bot.console.auth import hash_password, new_password
    from storage import ConsoleConflict, ConsoleStore, open_store

    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    email = str(args.email).strip().lower()
    if not _EMAIL.match(email):
        _err(f"baton: {args.email!r} is not an email address")
        return 2
    name = str(args.name).strip()
    if not name or len(name) > 100:
        _err("baton: --name must be 1 to 100 characters")
        return 2
    password = None
    if not args.generate_password and sys.stdin.isatty():
        password = _ask_password()
    elif not args.generate_password:
        # A script pipes the password (its first line); nothing piped: one is generated.
        piped = sys.stdin.readline().rstrip("\r\n") if sys.stdin is not None else ""
        if piped and len(piped) < _MIN_PASSWORD:
            _err(f"baton: the password given on standard input is shorter than {_MIN_PASSWORD}")
            return 2
        password = piped or None
    generated = password is None
    if password is None:
        password = new_password()
    store = await open_store(settings.database_url)
    try:
        await store.check_schema()
        agent = await ConsoleStore(store).add_agent(
            email, name, args.role, hash_password(password)
        )
    except ConsoleConflict as exc:
        _err(f"baton: {exc}")
        return 1
    finally:
        await store.close()
    _out(f"baton: added {agent.role} {agent.name} <{agent.email}>; log in at /console")
    if generated:
        _out(f"Password (shown once, keep it safe): {password}")
    return 0
