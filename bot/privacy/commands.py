"""`baton customer erase|export ID` and `baton retention [--dry-run]`: privacy from the
command line, for admins with access to the database (every use is in the audit trail as
"cli")."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bot.privacy.page import export_page
from bot.privacy.retention import periods
from bot.settings import Settings

__all__ = ["add_parsers", "run_customer_command", "run_retention_command"]


def add_parsers(subparsers: Any) -> None:
    """Add `baton customer ...` and `baton retention` to the CLI's subcommands."""
    customer = subparsers.add_parser("customer", help="export or erase a customer's data")
    commands = customer.add_subparsers(dest="customer_command", required=True)
    erase = commands.add_parser("erase", help="erase everything held about a customer")
    erase.add_argument("customer_id", type=int)
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    export = commands.add_parser("export", help="everything held about a customer")
    export.add_argument("customer_id", type=int)
    export.add_argument("--html", action="store_true", help="a readable HTML page, not JSON")
    export.add_argument("--out", help="write to this file (default: standard output)")
    retention = subparsers.add_parser(
        "retention", help="delete data older than its retention period (BATON_RETENTION_*)"
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted; delete nothing"
    )
    retention.add_argument("--now", type=float, help=argparse.SUPPRESS)


async def run_customer_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `baton customer erase|export`."""
    from storage import open_store
    from storage.files import LocalFolder
    from storage.privacy import PrivacyStore

    store = await open_store(settings.database_url)
    try:
        await store.check_schema(create_if_empty=False)
        db = PrivacyStore(store)
        if args.customer_command == "export":
            data = await db.export(args.customer_id, actor="cli")
            if data is None:
                sys.stderr.write(f"baton: no customer {args.customer_id}\n")
                return 1
            text = export_page(data) if args.html else json.dumps(data, ensure_ascii=False)
            if args.out:
                await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
            else:
                sys.stdout.write(text + "\n")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                sys.stderr.write("baton: pass --yes to erase without a terminal to confirm\n")
                return 2
            answer = await asyncio.to_thread(
                input, f"Erase customer {args.customer_id} for good? Type 'erase': "
            )
            if answer.strip() != "erase":
                sys.stderr.write("baton: nothing erased\n")
                return 1
        done = await db.erase(args.customer_id, actor="cli")
        if done is None:
            sys.stderr.write(f"baton: no customer {args.customer_id}\n")
            return 1
        files = LocalFolder(settings.media_folder)  # the default store of `bot.media`
        for location in done.files:
            await files.delete(location)
        deleted = {k: v for k, v in done.deleted.items() if v}
        sys.stdout.write(
            f"baton: erased customer {args.customer_id} "
            f"({sum(deleted.values())} rows: {json.dumps(deleted)})\n"
        )
        return 0
    finally:
        await store.close()


async def run_retention_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `baton retention [--dry-run]`: print what is (or would be) deleted, per kind."""
    from storage import open_store
    from storage.privacy import PrivacyStore

    store = await open_store(settings.database_url)
    try:
        await store.check_schema(create_if_empty=False)
        db = PrivacyStore(store)
        days = periods(settings)
        now = args.now if args.now is not None else time.time()
        if args.dry_run:
            due = await db.retention_plan(days, now=now)
            sys.stdout.write(json.dumps({"dry_run": True, "due": due}) + "\n")
            return 0
        done = await db.retention_run(days, now=now)
        assert done is not None  # every=0: the claim always succeeds
        sys.stdout.write(json.dumps({"dry_run": False, "due": done[0], "deleted": done[1]}) + "\n")
        return 0
    finally:
        await store.close()
