"""The `baton` command: run, shell, migrate, agent, customer, retention."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings
from bot.startup import StartupError, project_app, put_current_folder_on_path
from storage import StoreError

__all__ = ["main"]

log = logging.getLogger("baton")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton", description="Customer conversations across channels, one memory."
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run",
        help="serve webhooks, /chat and the engine (default)",
        description="Serve the webhooks, the web chat at /chat, the console at /console and "
        "the engine (`python -m bot` is the same). Without a target it runs BATON_APP, else "
        'the bot named in ./pyproject.toml ([tool.baton] app = "flows:app"), else the demo '
        "bot; your module is imported from the current folder. With no platform credentials "
        "it also serves the sandbox at /sandbox. It prints where to go once everything is up; "
        "Ctrl-C or SIGTERM stops it gracefully.",
    )
    run.add_argument("target", nargs="?", help="your app as package.module:app (default: demo)")
    run.add_argument("--host", help="listen address (BATON_HOST)")
    run.add_argument("--port", type=int, help="listen port (BATON_PORT)")
    shell = sub.add_parser(
        "shell",
        help="chat with the bot in this terminal",
        description="Chat with the bot in this terminal through the same engine and "
        "database; it shows the open question when you come back. When `baton run` already "
        "serves the database, the shell joins that server as the web chat customer "
        "shell-NAME, so agents' replies from the console reach it; otherwise it runs its own "
        "engine. Ctrl-D, Ctrl-C or /quit leaves.",
    )
    shell.add_argument("target", nargs="?", help="your app as package.module:app")
    shell.add_argument("--user", help="who you are to the bot (default: your login name)")
    sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Create or upgrade the database schema at BATON_DATABASE_URL (Alembic). "
        "Baton refuses to start on a schema older than its code and says to run this.",
    )
    new = sub.add_parser(
        "new",
        help="make a folder with a small bot, its tests and settings",
        description="Make the folder NAME with a small real bot (flows.py), its tests "
        "(test_flows.py), pyproject.toml (so baton run, baton shell and pytest there use it), "
        ".env.example (every setting, commented out), a README.md and a .gitignore. Refuses a "
        "folder that exists and is not empty, and a name that is not a Python module name.",
    )
    new.add_argument("name", help="the project's name, a Python module name (e.g. shop)")
    from bot.console.commands import add_agent_parser

    add_agent_parser(sub)
    from bot.privacy.commands import add_parsers as add_privacy_parsers

    add_privacy_parsers(sub)  # baton customer erase|export, baton retention
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `baton` command and of `python -m bot`."""
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "new":
        from bot.scaffold import ScaffoldError, new_project

        try:
            print(new_project(args.name))
        except ScaffoldError as exc:
            print(f"baton: {exc}", file=sys.stderr)
            return 2
        return 0
    put_current_folder_on_path()
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
    from bot.privacy.logs import install as scrub_logs

    scrub_logs(settings.log_level)  # no phone numbers or emails at INFO and above
    if command == "shell":
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    from adapters.errors import AdapterError

    try:
        if command == "migrate":
            return asyncio.run(_migrate(settings))
        if command == "agent":
            from bot.console.commands import run_agent_command

            return asyncio.run(run_agent_command(args, settings))
        if command in ("customer", "retention"):
            from bot.privacy import commands as privacy_commands

            run = (
                privacy_commands.run_customer_command
                if command == "customer"
                else privacy_commands.run_retention_command
            )
            return asyncio.run(run(args, settings))
        if command == "shell":
            from bot.app import load_app
            from bot.shell import run_shell

            app = load_app(args.target or settings.app or project_app())
            return asyncio.run(run_shell(settings, app, user=args.user))
        return _run(
            settings,
            getattr(args, "target", None) or settings.app or project_app(),
            getattr(args, "host", None),
            getattr(args, "port", None),
        )
    except (StoreError, SettingsError, AdapterError, StartupError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbaton: stopped", file=sys.stderr)
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
    from bot.banner import banner
    from bot.channels import channel_adapters, sandbox_wanted
    from bot.event_loop import loop_name, new_event_loop
    from bot.ports import in_use, port_problem
    from bot.serving import announce

    app_def = load_app(target)
    bind_host = host or settings.host
    bind_port = port if port is not None else settings.port
    problem = port_problem(bind_host, bind_port)
    if problem:
        raise StartupError(problem)
    sandbox = sandbox_wanted(settings)
    loop = new_event_loop(settings.event_loop)

    async def build() -> web.Application:
        await _check_database(settings)  # a mistake ends run_app before anything is served
        log.info("event loop: %s", loop_name(asyncio.get_running_loop()))
        if sandbox:
            from bot.sandbox import build_app, local_url

            return await build_app(settings, app_def, base_url=local_url(bind_host, bind_port))
        return await create_app(settings, app_def, adapters=await channel_adapters(settings))

    def ready(_: str) -> None:
        # aiohttp calls this once the engine runs and the socket listens: only then the banner.
        url = banner_url(bind_host, bind_port)
        announce(settings.database_url, url)
        print(banner(settings, url, target or "bot.demo:app", sandbox=sandbox), flush=True)

    try:
        web.run_app(
            build(),
            host=bind_host,
            port=bind_port,
            print=ready,
            access_log=None,
            handle_signals=True,
            loop=loop,
            # A request's headers must arrive this long after the connection opens or the
            # previous answer (aiohttp closes it then); its body's deadline is `bot.web_guard`'s.
            keepalive_timeout=settings.read_timeout_seconds,
        )
    except OSError as exc:
        # The port taken between the check and the listen, or not ours to listen on.
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise StartupError(in_use(bind_host, bind_port, exc)) from None
    return 0


def banner_url(host: str, port: int) -> str:
    """The URL this machine reaches the server at."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


async def _check_database(settings: Settings) -> None:
    """Reach the database before serving: a mistake is one line naming it, not a traceback."""
    from bot.startup import database_problem
    from storage import open_store

    try:
        store = await open_store(settings.database_url)
    except StoreError:
        raise
    except Exception as exc:
        raise StartupError(database_problem(settings.database_url, exc)) from None
    try:
        await store.check_schema()
    except StoreError:
        raise
    except Exception as exc:
        raise StartupError(database_problem(settings.database_url, exc)) from None
    finally:
        await store.close()
