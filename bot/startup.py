"""Start-up mistakes told in one or two lines: the user's module, the port, the database.

`baton run` and `baton shell` raise `StartupError` for a mistake the user can fix; the CLI prints
its message and exits with status 2, with no traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = [
    "StartupError",
    "database_problem",
    "import_app_module",
    "project_app",
    "put_current_folder_on_path",
    "where",
]


class StartupError(Exception):
    """A start-up mistake the user can fix; the message names it and the fix."""


def where(filename: str | None, line: int | None) -> str:
    """`mybot.py line 3`, relative to the current folder where it is inside it."""
    if not filename:
        return "your module"
    path = Path(filename)
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    return f"{shown} line {line}" if line else shown


def import_app_module(module_name: str) -> object:
    """Import the user's module; a mistake in it is a `StartupError` naming its file and line."""
    try:
        return importlib.import_module(module_name)
    except SyntaxError as exc:
        raise StartupError(
            f"{where(exc.filename, exc.lineno)}: {exc.msg}; fix the syntax and start again"
        ) from None
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise StartupError(
                f"cannot import {module_name!r}: no {module_name.replace('.', '/')}.py in "
                f"{os.getcwd()}; run baton from the folder that holds it"
            ) from None
        raise StartupError(
            f"{_user_frame(exc)}: {exc}; install it (pip install ...) or fix the import"
        ) from None
    except Exception as exc:
        raise StartupError(
            f"{_user_frame(exc)}: {type(exc).__name__}: {exc} (while importing {module_name})"
        ) from None


def _user_frame(exc: BaseException) -> str:
    # The innermost frame outside Python's import machinery and Baton: the user's line.
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.isfile(f.filename)
        and "importlib" not in f.filename
        and not f.filename.startswith(_BATON_PACKAGES)
    ]
    if not frames:
        return "your module"
    return where(frames[-1].filename, frames[-1].lineno)


_BATON_PACKAGES = tuple(
    str(Path(__file__).resolve().parents[1] / package) + os.sep
    for package in ("bot", "dialogs", "adapters", "storage")
)


def database_problem(url: str, exc: BaseException) -> str:
    """One line about a database that could not be opened: which one (no password) and why."""
    try:
        parsed = make_url(url)
    except Exception:
        return f"cannot open the database BATON_DATABASE_URL: {exc}"
    reason = _reason(exc)
    if parsed.get_backend_name() == "sqlite":
        return (
            f"cannot open the SQLite database {parsed.database}: {reason}; check "
            "BATON_DATABASE_URL and that its folder exists and is writable"
        )
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return (
        f"cannot reach PostgreSQL at {host}:{port}, database {parsed.database!r} as user "
        f"{parsed.username!r}: {reason}; start PostgreSQL or fix BATON_DATABASE_URL"
    )


def _reason(exc: BaseException) -> str:
    seen: set[int] = set()
    inner: BaseException = exc
    # SQLAlchemy wraps the driver's error: the innermost cause says what happened.
    while id(inner) not in seen:
        seen.add(id(inner))
        nxt = getattr(inner, "orig", None) or inner.__cause__
        if nxt is None:
            break
        inner = nxt
    text = (str(inner) or type(inner).__name__).strip().splitlines()[0]
    if isinstance(inner, ConnectionRefusedError) or "Connect call failed" in text:
        return "connection refused"
    return text[:200]


def project_app() -> str | None:
    """The bot named in ./pyproject.toml (`[tool.baton] app = "flows:app"`), if any."""
    import tomllib

    try:
        with open("pyproject.toml", "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StartupError(
            f"pyproject.toml: {exc}; fix it or name the bot: baton run module:app"
        ) from None
    app = data.get("tool", {}).get("baton", {}).get("app")
    if app is not None and not isinstance(app, str):
        raise StartupError('pyproject.toml: [tool.baton] app must be a string like "flows:app"')
    return app


def put_current_folder_on_path() -> None:
    """Import the user's modules from the current folder, as uvicorn and flask do."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
