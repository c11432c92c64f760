"""Run one emulator standalone: `python -m adapters.emulators telegram|twilio|slack|openai
--port N` (openai: an OpenAI-compatible chat completions API that answers "I don't know."
unless scripted from Python)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web

from adapters.emulators._recorder import Emulator
from adapters.emulators.openai import OpenAIEmulator
from adapters.emulators.slack import SlackEmulator
from adapters.emulators.telegram import TelegramEmulator
from adapters.emulators.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioEmulator

DEFAULT_PORTS = {"telegram": 8081, "twilio": 8082, "slack": 8083, "openai": 8084}


def build(args: argparse.Namespace) -> Emulator:
    """The emulator named on the command line, configured from its options."""
    if args.platform == "telegram":
        return TelegramEmulator(args.token)
    if args.platform == "openai":
        return OpenAIEmulator(api_key=args.token)
    if args.platform == "twilio":
        return TwilioEmulator(
            args.account_sid, args.auth_token, status_callbacks=args.status_callbacks
        )
    return SlackEmulator(args.token, team_id=args.team_id)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m adapters.emulators", description=__doc__)
    parser.add_argument("platform", choices=sorted(DEFAULT_PORTS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, help="default: 8081 telegram, 8082 twilio, 8083 slack, 8084 openai"
    )
    parser.add_argument(
        "--token",
        help="bot token or API key to require (telegram, slack, openai); default: any",
    )
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID, help="twilio")
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN, help="twilio")
    parser.add_argument(
        "--status-callbacks",
        action="store_true",
        help="twilio: POST signed sent/delivered status callbacks",
    )
    parser.add_argument("--team-id", default="T0EMU0001", help="slack")
    args = parser.parse_args(argv)
    emulator = build(args)
    port = args.port if args.port is not None else DEFAULT_PORTS[args.platform]
    web.run_app(emulator.app, host=args.host, port=port, access_log=None)


if __name__ == "__main__":
    main()
