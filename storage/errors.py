"""Storage errors.

StoreError
├── ConfigError         the database URL is not one Baton can use
├── SchemaBehind        the database schema is older than the code: run `baton migrate`
├── StoreLocked         another Baton engine process already uses this SQLite file
├── AlreadyHandled      a turn for an inbox row that was already handled (nothing written)
└── ConsoleConflict     an agent's action lost a race or is not theirs to take (`code` says
                        which: "not_found", "taken", "not_holder", "customer_wrote", "exists",
                        "unknown_agent")
"""

from __future__ import annotations

__all__ = [
    "AlreadyHandled",
    "ConfigError",
    "ConsoleConflict",
    "SchemaBehind",
    "StoreError",
    "StoreLocked",
]


class StoreError(Exception):
    """Base of every storage error."""


class ConfigError(StoreError):
    """The database URL is not supported."""


class SchemaBehind(StoreError):
    """The schema is older (or newer) than this version of Baton expects."""


class StoreLocked(StoreError):
    """A second engine process tried to use the same SQLite database."""


class AlreadyHandled(StoreError):
    """The inbox row of a turn was already handled; the turn was not written."""


class ConsoleConflict(StoreError):
    """An agent's action lost a race or is not theirs to take; nothing was written.

    `code` is one of "not_found", "taken", "not_holder", "customer_wrote", "exists",
    "unknown_agent".
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
