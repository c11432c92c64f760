"""The registry of every table that holds a customer's data: how erasure treats its rows and
whether the export shows them.

Erasure and export read this list and nothing else, so a table that is not declared here is
neither erased nor exported. `tests/unit/test_personal_data.py` fails when a table has a
`customer_id` column (or a column of personal data: text, payloads, names, phone numbers,
external ids) and is not declared, so a new feature's table is declared when it is added:

```python
from storage.personal_data import PersonalTable, declare

declare(PersonalTable("surveys", rows="customer_id", erase="delete", export="surveys"))
```

A table that holds nothing of any customer is declared in `NOT_CUSTOMER_DATA`, with the
reason.

`rows` says how a customer's rows are found: `"customer_id"` (a column), a tuple
`("run_id", "flow_runs", "id")` (a column pointing at the customer's rows of another table),
or `"merge_log"`-style several columns (`("customer_id", "other_customer_id")` via `columns`).
Entries are kept in deletion order: children before the rows they point at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Table, case, cast, func, literal

__all__ = [
    "NOT_CUSTOMER_DATA",
    "REGISTRY",
    "PersonalTable",
    "declare",
    "declared",
]


@dataclass(frozen=True, slots=True)
class PersonalTable:
    """One table holding customers' data."""

    table: str
    columns: tuple[str, ...] = ("customer_id",)
    """The columns holding the customer's id (a row is theirs when any of them matches)."""
    via: tuple[str, str, str] | None = None
    """(column, other table, its column): the row belongs to the customer owning the row of
    the other table it points at (journal entries through their run)."""
    erase: str = "delete"
    """"delete" (the rows go), "blank" (the rows stay, `blank`'s columns are overwritten) or
    "keep" (ids only, no personal data: kept on purpose)."""
    blank: tuple[tuple[str, Any], ...] = ()
    """For "blank": (column, value) written over each of the customer's rows; a callable
    value is called with the table and gives an SQL expression."""
    export: str | None = None
    """The export's section for these rows; None: not exported (see `why`)."""
    hidden: tuple[str, ...] = ()
    """Columns left out of the export (secret hashes, leases)."""
    files: str | None = None
    """A column holding the path of a file on disk that goes with the row (media)."""
    why: str = ""


def _erased_id(table: Table) -> Any:
    """'erased:<row id>': unique, so unique constraints hold, and nothing of the old value."""
    return literal("erased:") + cast(table.c.id, String)


REGISTRY: list[PersonalTable] = [
    PersonalTable(
        "flow_journal",
        columns=(),
        via=("run_id", "flow_runs", "id"),
        export="flow_answers",
        why="a flow's answers and step results are what the customer told the bot",
    ),
    PersonalTable("flow_runs", export="flow_runs"),
    PersonalTable(
        "outbox",
        erase="blank",
        blank=(
            ("payload", {}),
            ("external_id", _erased_id),
            ("route", None),
            ("last_error", None),
            ("status", lambda t: case((t.c.status == "pending", "failed"), else_=t.c.status)),
        ),
        export="outbox",
        hidden=("claimed_by", "claim_until"),
        why="replies and where they were sent; the skeleton (channel, status, times) stays",
    ),
    PersonalTable(
        "inbox",
        erase="blank",
        blank=(
            ("payload", {}),
            ("platform_message_id", _erased_id),
            ("processed_at", lambda t: func.coalesce(t.c.processed_at, t.c.received_at)),
        ),
        export="inbox",
        why="raw platform payloads of inbound messages",
    ),
    PersonalTable(
        "messages",
        erase="blank",
        blank=(("text", None), ("payload", None), ("platform_message_id", None), ("error", None)),
        export="messages",
        why="every message on every channel; the skeleton (channel, direction, time) stays for "
        "anonymous counts",
    ),
    PersonalTable(
        "handoff_events", erase="blank", blank=(("detail", None),), export="handoff_events"
    ),
    PersonalTable(
        "agent_notes",
        export="agent_notes",
        why="agents' notes are personal data about the customer: GDPR art. 15 includes them",
    ),
    PersonalTable(
        "handoffs",
        erase="blank",
        blank=(
            ("reason", None),
            ("summary", {}),
            (
                "status",
                lambda t: case(
                    (t.c.status.in_(("waiting", "agent")), "cancelled"), else_=t.c.status
                ),
            ),
        ),
        export="handoffs",
        why="the skeleton (times, agents, breaches) stays for reports",
    ),
    PersonalTable("link_codes", export="link_codes", hidden=("selector_hash", "code_hash")),
    PersonalTable("export_links", why="only hashes of one-time tokens: nothing to show"),
    PersonalTable("consents", export="consents"),
    PersonalTable(
        "phone_proofs", columns=(), via=("identity_id", "identities", "id"), export="phone_proofs"
    ),
    PersonalTable(
        "link_throttle",
        columns=(),
        via=("identity_id", "identities", "id"),
        why="counts of wrong codes: no personal data to show",
    ),
    PersonalTable("merge_log", columns=("customer_id", "other_customer_id"), export="merge_log"),
    PersonalTable(
        "identities",
        erase="blank",
        blank=(
            ("external_id", _erased_id),
            ("display_name", None),
            ("route", None),
            ("unreachable", True),
        ),
        export="identities",
        why="the row stays without the platform id or name, so its id is never another "
        "person's (cached flags are keyed by it)",
    ),
    PersonalTable(
        "conversations",
        erase="blank",
        blank=(("handoff_reason", None), ("status", "resolved")),
        export="conversations",
    ),
    PersonalTable(
        "customers",
        columns=("id",),
        erase="blank",
        blank=(
            ("memory", {}),
            ("active_run_id", None),
        ),
        export="profile",
        hidden=("lease_owner", "lease_until"),
        why="the row stays, emptied, so its id is never given to another person (SQLite "
        "reuses the highest id otherwise) and the audit trail's ids stay unambiguous",
    ),
    PersonalTable(
        "audit_log",
        erase="keep",
        export="data_requests",
        why="ids only: the record of who read, exported and erased (accountability, art. 5(2))",
    ),
]
"""Every table holding a customer's data, in deletion order (see the module docstring)."""

NOT_CUSTOMER_DATA: dict[str, str] = {
    "agents": "the console's people, not customers",
    "agent_sessions": "console logins",
    "api_tokens": "API tokens of agents",
    "canned_replies": "texts agents write for everyone",
    "install_secrets": "this installation's keys",
    "tombstones": "keyed hashes of erased identities and messages, never the ids themselves",
    "job_claims": "which process runs a scheduled job",
}
"""Tables that hold no customer's data, with the reason."""


def declare(entry: PersonalTable, *, before: str | None = None) -> None:
    """Declare a feature's table (before the table named `before` in deletion order, e.g.
    "customers"; default: before "identities", after the rows that point at people)."""
    if any(e.table == entry.table for e in REGISTRY):
        raise ValueError(f"table {entry.table!r} is already declared")
    if entry.erase not in ("delete", "blank", "keep"):
        raise ValueError(f"erase must be 'delete', 'blank' or 'keep', not {entry.erase!r}")
    anchor = before or "identities"
    at = next(i for i, e in enumerate(REGISTRY) if e.table == anchor)
    REGISTRY.insert(at, entry)


def declared(table: str) -> PersonalTable | None:
    """The declaration of `table`, or None."""
    return next((e for e in REGISTRY if e.table == table), None)
