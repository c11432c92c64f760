"""`baton send` and `baton campaign`: proactive messages from the command line.

Both write to the database the settings name, with the same rules as `engine.notify` and the
API (the channel rule, consent, opt-outs; a skip is recorded with its reason). A running
Baton (`baton run` on the same database) sends what they queue: its sweep picks up a
`baton send` within seconds, its campaign runner a new campaign within a second.

    baton send 42 "Your parcel shipped" [--purpose service] [--choice Yes --choice No]
    baton campaign create --text "Spring sale" --purpose marketing --consent marketing \\
        [--memory plan=pro] [--seen-after 2026-01-01] [--customers 1,2,3] [--wait]
    baton campaign create --flow survey [--arg topic=delivery] --consent surveys [--wait]
    baton campaign status 7 [--wait]      a progress bar until every message left
    baton campaign list | cancel 7
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.proactive.errors import BadMessage
from bot.proactive.service import make_prompt
from bot.settings import Settings
from storage import Store, open_store
from storage.campaigns import CampaignStore
from storage.consents import check_purpose

__all__ = ["add_parsers", "progress_line", "run_campaign_command", "run_send_command"]

_BAR = 30


def add_parsers(sub: Any) -> None:
    """Add `send` and `campaign` to the `baton` command's subparsers."""
    send = sub.add_parser("send", help="message a customer first (proactive message)")
    send.add_argument("customer", type=int, help="the customer's id")
    send.add_argument("text", help="what to send")
    send.add_argument("--purpose", default="service", help="one of BATON_PURPOSES")
    send.add_argument("--choice", action="append", default=[], help="a button label (repeat)")
    campaign = sub.add_parser("campaign", help="one message to a segment of customers")
    actions = campaign.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="select a segment and start sending")
    what = create.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="what to send")
    what.add_argument("--flow", help="start this flow of the App for each recipient instead")
    create.add_argument(
        "--arg", action="append", default=[], help="KEY=VALUE for the flow's ctx.args (repeat)"
    )
    create.add_argument("--name", default="", help="a name to find it by")
    create.add_argument("--purpose", default="service", help="one of BATON_PURPOSES")
    create.add_argument("--choice", action="append", default=[], help="a button label")
    create.add_argument("--consent", help="only customers who granted this purpose")
    create.add_argument(
        "--memory", action="append", default=[], help="KEY=VALUE in the customer's memory"
    )
    create.add_argument("--seen-after", help="last message on or after (ISO date or time)")
    create.add_argument("--seen-before", help="last message before (ISO date or time)")
    create.add_argument("--customers", help="only these customer ids (comma-separated)")
    create.add_argument("--wait", action="store_true", help="show progress until it is done")
    status = actions.add_parser("status", help="a campaign's progress")
    status.add_argument("id", type=int)
    status.add_argument("--wait", action="store_true", help="a progress bar until it is done")
    actions.add_parser("list", help="the newest campaigns")
    cancel = actions.add_parser("cancel", help="skip the recipients not yet queued")
    cancel.add_argument("id", type=int)


def _channels(settings: Settings) -> list[str]:
    from adapters.registry import configured

    return [*configured(settings), "web"]


def _purpose(settings: Settings, purpose: str) -> str:
    check_purpose(purpose)
    if purpose not in settings.purpose_names:
        raise BadMessage(
            f"unknown purpose {purpose!r}: use one of {', '.join(settings.purpose_names)} "
            "(BATON_PURPOSES lists them)"
        )
    return purpose


async def _store(settings: Settings) -> Store:
    store = await open_store(settings.database_url)
    await store.check_schema()
    return store


async def run_send_command(args: argparse.Namespace, settings: Settings) -> int:
    """`baton send`: 0 queued, 1 skipped (the reason printed), 2 refused."""
    try:
        prompt = make_prompt(args.text, choices=args.choice)
        purpose = _purpose(settings, args.purpose)
    except (BadMessage, ValueError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2
    store = await _store(settings)
    try:
        record, _ = await CampaignStore(store).send(
            args.customer,
            prompt,
            purpose=purpose,
            channels=_channels(settings),
            source="cli",
            actor=f"cli:{getpass.getuser()}",
            claim=False,
        )
    except LookupError:
        print(f"baton: no customer {args.customer}", file=sys.stderr)
        return 2
    finally:
        await store.close()
    if record.status == "skipped":
        print(
            f"baton: not sent to customer {args.customer}: {record.reason} "
            f"(recorded as proactive message {record.id})",
            file=sys.stderr,
        )
        return 1
    print(
        f"baton: proactive message {record.id} to customer {args.customer} queued on "
        f"{record.channel}; a running Baton (baton run) sends it"
    )
    return 0


def _when(value: str | None, flag: str) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadMessage(f"{flag} {value!r} is not an ISO date or time, e.g. 2026-01-31") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _segment(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    segment: dict[str, Any] = {}
    if args.consent:
        segment["consent"] = _purpose(settings, args.consent)
    memory = {}
    for item in args.memory:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadMessage(f"--memory {item!r}: write KEY=VALUE, e.g. plan=pro")
        memory[key] = value
    if memory:
        segment["memory"] = memory
    for flag, key in (("--seen-after", "seen_after"), ("--seen-before", "seen_before")):
        moment = _when(getattr(args, key), flag)
        if moment is not None:
            segment[key] = moment
    if args.customers:
        try:
            segment["customers"] = [int(c) for c in args.customers.split(",") if c.strip()]
        except ValueError:
            raise BadMessage("--customers is a comma-separated list of customer ids") from None
    return segment


def _flow_args(pairs: list[str]) -> dict[str, str]:
    """--arg KEY=VALUE pairs as the flow's args (strings)."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadMessage(f"--arg takes KEY=VALUE, not {pair!r}")
        found[key.strip()] = value
    return found


def progress_line(campaign: dict[str, Any]) -> str:
    """One line of progress: a bar of what has left, then the counts."""
    counts, total = campaign["counts"], max(1, int(campaign["total"]))
    started = counts.get("started", 0)
    done = counts["sent"] + counts["skipped"] + counts["failed"] + counts["uncertain"] + started
    filled = round(_BAR * done / total)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(campaign["skipped_reasons"].items()))
    return (
        f"[{'#' * filled}{'-' * (_BAR - filled)}] {done}/{campaign['total']}  "
        + (f"started {started}  " if "started" in counts else "")
        + f"sent {counts['sent']}  skipped {counts['skipped']}"
        + (f" ({reasons})" if reasons else "")
        + f"  failed {counts['failed']}  uncertain {counts['uncertain']}"
        + f"  waiting {counts['pending'] + counts['queued']}"
        + f"  [{campaign['status']}]"
    )


async def _follow(db: CampaignStore, campaign_id: int, out: TextIO) -> dict[str, Any]:
    """Print progress until every recipient is sent, skipped or failed."""
    tty = out.isatty()
    last_print = 0.0
    while True:
        found = await db.campaign(campaign_id)
        assert found is not None
        counts = found["counts"]
        finished = found["status"] != "running" and counts["queued"] == 0
        now = time.monotonic()
        if tty:
            out.write("\r" + progress_line(found) + "\x1b[K")
            out.flush()
        elif finished or now - last_print >= 5:
            print(progress_line(found), file=out, flush=True)
            last_print = now
        if finished:
            if tty:
                out.write("\n")
            return found
        await asyncio.sleep(0.5)


async def run_campaign_command(args: argparse.Namespace, settings: Settings) -> int:
    """`baton campaign create|status|list|cancel`."""
    try:
        if args.action == "create":
            if args.flow is not None:
                if args.choice:
                    raise BadMessage("--choice goes with --text, not --flow")
                prompt = {"flow": args.flow, "args": _flow_args(args.arg)}
            else:
                prompt = make_prompt(args.text, choices=args.choice)
            purpose = _purpose(settings, args.purpose)
            segment = _segment(args, settings)
    except (BadMessage, ValueError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2
    store = await _store(settings)
    db = CampaignStore(store)
    try:
        if args.action == "list":
            for c in await db.campaigns():
                print(f"{c['id']:>5}  {c['name'][:30]:<30}  {progress_line(c)}")
            return 0
        if args.action == "cancel":
            if not await db.cancel_campaign(args.id):
                print(f"baton: no running campaign {args.id}", file=sys.stderr)
                return 2
            print(f"baton: campaign {args.id} cancelled; messages already queued still leave")
            return 0
        if args.action == "status":
            found = await db.campaign(args.id)
            if found is None:
                print(f"baton: no campaign {args.id}", file=sys.stderr)
                return 2
            if args.wait:
                await _follow(db, args.id, sys.stdout)
            else:
                print(progress_line(found))
            return 0
        campaign_id, total = await db.create_campaign(
            name=args.name or (args.text or f"flow {args.flow}")[:100],
            purpose=purpose,
            prompt=prompt,
            segment=segment,
            channels=_channels(settings),
            actor=f"cli:{getpass.getuser()}",
        )
        if campaign_id is None:
            print("baton: no customer matches this segment: nothing was sent", file=sys.stderr)
            return 1
        print(
            f"baton: campaign {campaign_id} to {total} customer(s) started; a running Baton "
            "(baton run) sends it"
        )
        if args.wait:
            await _follow(db, campaign_id, sys.stdout)
        return 0
    finally:
        await store.close()
