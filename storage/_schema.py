"""Alembic migrations, applied by `baton migrate` and checked when Baton starts."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from storage.errors import SchemaBehind

log = logging.getLogger("baton.storage")

_MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = ["check", "config", "head", "status", "upgrade"]


def config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at Baton's migrations (and at `connection`, if given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def status(conn: Connection) -> tuple[str | None, str]:
    """(revision of the database, head revision)."""
    return MigrationContext.configure(conn).get_current_revision(), head()


def upgrade(conn: Connection) -> tuple[str | None, str]:
    """Apply every pending migration; returns (before, after)."""
    before = MigrationContext.configure(conn).get_current_revision()
    command.upgrade(config(conn), "head")
    return before, head()


def check(conn: Connection, *, create_if_empty: bool) -> None:
    """Raise `SchemaBehind` unless the schema is at head. An empty database is migrated."""
    current, newest = status(conn)
    if current == newest:
        return
    if current is None and create_if_empty and not _has_baton_tables(conn):
        log.info("empty database: creating Baton's tables (revision %s)", newest)
        upgrade(conn)
        return
    if current is None:
        raise SchemaBehind(
            "the database has tables but no Baton schema version; point BATON_DATABASE_URL "
            "at an empty database or one made by `baton migrate`"
        )
    known = {s.revision for s in ScriptDirectory.from_config(config()).walk_revisions()}
    if current not in known:
        raise SchemaBehind(
            f"the database schema ({current}) is newer than this Baton ({newest}); "
            "upgrade Baton or use another database"
        )
    raise SchemaBehind(
        f"the database schema is behind (at {current}, this Baton needs {newest}): "
        "run `baton migrate`"
    )


def _has_baton_tables(conn: Connection) -> bool:
    return bool({"customers", "inbox", "outbox"} & set(inspect(conn).get_table_names()))
