"""The `baton` command: run, shell, migrate, agent."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings

__all__ = ["main"]

log = logging.getLogger("baton")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton", description="Customer conversations across channels, one memory."
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="serve webhooks, /chat and the engine (default)")
    run.add_argument("target", nargs="?", help="your app as package.module:app (default: demo)")
    run.add_argument("--host", help="listen address (BATON_HOST)")
    run.add_argument("--port", type=int, help="listen port (BATON_PORT)")
    shell = sub.add_parser("shell", help="chat with the bot in this terminal")
    shell.add_argument("target", nargs="?", help="your app as package.module:app")
    shell.add_argument("--user", help="who you are to the bot (default: your login name)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    from bot.console.commands import add_agent_parser

    add_agent_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `baton` command and of `python -m bot`."""
    args = _parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if command == "shell":
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    from adapters.errors import AdapterError
    from storage import StoreError

    try:
        if command == "migrate":
            return asyncio.run(_migrate(settings))
        if command == "agent":
            from bot.console.commands import run_agent_command

            return asyncio.run(run_agent_command(args, settings))
        if command == "shell":
            from bot.app import load_app
            from bot.shell import run_shell

            return asyncio.run(run_shell(settings, load_app(args.target), user=args.user))
        return _run(
            settings,
            getattr(args, "target", None),
            getattr(args, "host", None),
            getattr(args, "port", None),
        )
    except (StoreError, SettingsError, AdapterError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _migrate(settings: Settings) -> int:
    from storage import open_store

    store = await open_store(settings.database_url)
    try:
        before, after = await store.migrate()
    finally:
        await store.close()
    if before == after:
        print(f"baton: the schema is up to date ({after})")
    else:
        print(f"baton: migrated {before or 'empty database'} -> {after}")
    return 0


def _run(settings: Settings, target: str | None, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from bot.app import create_app, load_app
    from bot.channels import channel_adapters, sandbox_wanted
    from bot.event_loop import loop_name, new_event_loop

    app_def = load_app(target)
    bind_host = host or settings.host
    bind_port = port if port is not None else settings.port
    sandbox = sandbox_wanted(settings)
    loop = new_event_loop(settings.event_loop)

    async def build() -> web.Application:
        log.info("event loop: %s", loop_name(asyncio.get_running_loop()))
        if sandbox:
            from bot.sandbox import build_app, local_url

            return await build_app(settings, app_def, base_url=local_url(bind_host, bind_port))
        return await create_app(settings, app_def, adapters=await channel_adapters(settings))

    print(
        f"Baton is running: open http://{bind_host}:{bind_port}/chat to talk to the bot",
        flush=True,
    )
    if sandbox:
        from bot.sandbox import banner

        print(banner(settings, f"http://{bind_host}:{bind_port}"), flush=True)
    web.run_app(
        build(),
        host=bind_host,
        port=bind_port,
        print=None,
        access_log=None,
        handle_signals=True,
        loop=loop,
        # A request's headers must arrive this long after the connection opens or the previous
        # answer (aiohttp closes it then); its body's deadline is `bot.web_guard`'s.
        keepalive_timeout=settings.read_timeout_seconds,
    )
    return 0
