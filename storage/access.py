"""Who may act on a conversation, defined once.

A rule is written once as a small expression over a conversation's open handoff (its status,
who holds it, whom it is reserved for) and read two ways: `Rule.allows` decides in Python
(the console's policy, on an `Access` read beforehand) and `Rule.where` builds the SQLAlchemy
condition a conditional UPDATE carries (so the decision holds under races). A unit test
checks that the two agree on every combination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    false,
    or_,
    select,
    true,
)

from storage.errors import ConsoleConflict
from storage.tables import metadata
from storage.vocabulary import OPEN, HandoffStatus

__all__ = [
    "ASSIGN",
    "CLAIM",
    "HOLD",
    "RELEASE",
    "REPLY",
    "SEE",
    "Access",
    "Rule",
    "read_accesses",
    "require",
    "require_open",
]

_conversations: Table = metadata.tables["conversations"]
_handoffs: Table = metadata.tables["handoffs"]


@dataclass(frozen=True, slots=True)
class Access:
    """What authorisation needs to know about a conversation: status and its open handoff."""

    conversation_id: int
    customer_id: int
    status: str
    handoff_id: int | None
    handoff_status: str | None
    agent_id: int | None
    assigned_to: int | None


@dataclass(frozen=True, slots=True)
class _Is:
    field: str
    """"handoff_status", "agent_id" or "assigned_to"."""
    value: object
    """A value, None, or `_ME` (the acting agent)."""


@dataclass(frozen=True, slots=True)
class _All:
    parts: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Any:
    parts: tuple[_Node, ...]


_Node = _Is | _All | _Any | bool
_ME = object()
_COLUMNS = {
    "handoff_status": _handoffs.c.status,
    "agent_id": _handoffs.c.agent_id,
    "assigned_to": _handoffs.c.assigned_to,
}


def _is(field: str, value: object) -> _Is:
    return _Is(field, value)


def _all(*parts: _Node) -> _All:
    return _All(parts)


def _any(*parts: _Node) -> _Any:
    return _Any(parts)


def _decide(node: _Node, access: Access, agent_id: int) -> bool:
    if isinstance(node, bool):
        return node
    if isinstance(node, _All):
        return all(_decide(p, access, agent_id) for p in node.parts)
    if isinstance(node, _Any):
        return any(_decide(p, access, agent_id) for p in node.parts)
    if access.handoff_id is None:  # no open handoff: nothing of it matches
        return False
    value = agent_id if node.value is _ME else node.value
    have: object = getattr(access, node.field)
    return bool(have == value)


def _clause(node: _Node, agent_id: int) -> ColumnElement[bool]:
    if isinstance(node, bool):
        return true() if node else false()
    if isinstance(node, _All):
        return and_(*(_clause(p, agent_id) for p in node.parts))
    if isinstance(node, _Any):
        return or_(*(_clause(p, agent_id) for p in node.parts))
    column = _COLUMNS[node.field]
    value = agent_id if node.value is _ME else node.value
    return column.is_(None) if value is None else column == value


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may do one thing with a conversation: an agent by `agent`, an admin by `admin`
    (or by `agent`)."""

    agent: _Node
    admin: _Node

    def allows(self, access: Access | None, agent_id: int, *, admin: bool) -> bool:
        """Decide in Python, on what `access` read."""
        if access is None:
            return False
        if admin and _decide(self.admin, access, agent_id):
            return True
        return _decide(self.agent, access, agent_id)

    def where(self, agent_id: int, *, admin: bool) -> ColumnElement[bool]:
        """The same decision as a condition on the `handoffs` row (for a conditional UPDATE
        or a query joined to the open handoff)."""
        if admin:
            return or_(_clause(self.admin, agent_id), _clause(self.agent, agent_id))
        return _clause(self.agent, agent_id)


_OPEN_HANDOFF = _any(*(_is("handoff_status", s) for s in OPEN))
_WAITING_FOR_ME = _all(
    _is("handoff_status", HandoffStatus.WAITING),
    _any(_is("assigned_to", None), _is("assigned_to", _ME)),
)
_HELD_BY_ME = _all(_is("handoff_status", HandoffStatus.AGENT), _is("agent_id", _ME))

SEE = Rule(agent=_any(_WAITING_FOR_ME, _HELD_BY_ME), admin=True)
"""Read a conversation (and act on it as far as the action allows): admins see every one;
an agent the queue (waiting, not reserved for someone else), what is reserved for them and
what they hold."""
CLAIM = Rule(agent=_WAITING_FOR_ME, admin=_is("handoff_status", HandoffStatus.WAITING))
"""Take a waiting conversation (an admin also one reserved for someone else)."""
ASSIGN = Rule(agent=_any(_WAITING_FOR_ME, _HELD_BY_ME), admin=_OPEN_HANDOFF)
"""Reserve a conversation for another agent."""
RELEASE = Rule(
    agent=_any(
        _HELD_BY_ME,
        _all(_is("handoff_status", HandoffStatus.WAITING), _is("assigned_to", _ME)),
    ),
    admin=_OPEN_HANDOFF,
)
"""Put a conversation back in the queue: what one holds or what is reserved for one."""
HOLD = Rule(agent=_HELD_BY_ME, admin=_OPEN_HANDOFF)
"""End a conversation (resolve, hand back); replying needs `_HELD_BY_ME` even of admins."""
REPLY = Rule(agent=_HELD_BY_ME, admin=False)
"""Write to the customer: only the agent holding the conversation, admins too."""


def read_accesses(conn: Connection, conversation_ids: Sequence[int]) -> dict[int, Access]:
    """The `Access` of each conversation that exists, read in the caller's transaction."""
    q = (
        select(
            _conversations.c.id,
            _conversations.c.customer_id,
            _conversations.c.status,
            _handoffs.c.id,
            _handoffs.c.status,
            _handoffs.c.agent_id,
            _handoffs.c.assigned_to,
        )
        .select_from(_conversations)
        .outerjoin(
            _handoffs,
            and_(
                _handoffs.c.conversation_id == _conversations.c.id,
                _handoffs.c.status.in_(OPEN),
            ),
        )
        .where(_conversations.c.id.in_(list(conversation_ids)))
        .order_by(_handoffs.c.id)
    )
    return {
        int(r[0]): Access(int(r[0]), int(r[1]), str(r[2]), r[3], r[4], r[5], r[6])
        for r in conn.execute(q)
    }


def require(conn: Connection, conversation_id: int) -> Access:
    """The conversation's `Access`, read in the caller's transaction; ConsoleConflict
    ("not_found") when there is no such conversation."""
    found = read_accesses(conn, [conversation_id]).get(conversation_id)
    if found is None:
        raise ConsoleConflict("not_found", "no such conversation")
    return found


def require_open(conn: Connection, conversation_id: int) -> Access:
    """`require`, and ConsoleConflict("taken") unless a handoff is open."""
    acc = require(conn, conversation_id)
    if acc.handoff_id is None:
        raise ConsoleConflict("taken", "this conversation is no longer waiting for a person")
    return acc
