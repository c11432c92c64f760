"""The words stored in status, role and author columns, defined once.

Each is a `StrEnum` whose values are the strings already in the database (no migration): a
member compares equal to its string and binds as one. The same word may mean different
things: "agent" is a conversation status (an agent holds it), a handoff status, an agent's
role and a message's author; use the enum of the column at hand.

Members are for columns, not for JSON payloads (a plain `str` there keeps JSON encoding on
its fast path).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "OPEN",
    "Author",
    "ConversationStatus",
    "Direction",
    "HandoffOutcome",
    "HandoffStatus",
    "Role",
]


class ConversationStatus(StrEnum):
    """A conversation's status: bot -> waiting -> agent -> resolved -> back to bot."""

    BOT = "bot"
    WAITING = "waiting"
    """In the queue for a person."""
    AGENT = "agent"
    """An agent holds it; the bot stays quiet."""
    RESOLVED = "resolved"
    """An agent resolved it; the bot answers the customer's next message."""


class HandoffStatus(StrEnum):
    """A handoff's status: open while WAITING or AGENT, then one of the ends."""

    WAITING = "waiting"
    AGENT = "agent"
    RESOLVED = "resolved"
    HANDED_BACK = "handed_back"
    CANCELLED = "cancelled"
    """The customer left the queue (the conversation went back to the bot while waiting)."""
    LEFT = "left"
    """The conversation left the agent without them (e.g. the customer cancelled)."""


class HandoffOutcome(StrEnum):
    """How an agent ends a handoff, and the conversation status each leads to."""

    RESOLVED = "resolved"
    HANDED_BACK = "handed_back"

    @property
    def status(self) -> ConversationStatus:
        """The conversation's status after this outcome."""
        return (
            ConversationStatus.RESOLVED
            if self is HandoffOutcome.RESOLVED
            else ConversationStatus.BOT
        )


class Role(StrEnum):
    """An agent account's role."""

    AGENT = "agent"
    ADMIN = "admin"
    """Manages agents and sees every conversation."""


class Author(StrEnum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"


class Direction(StrEnum):
    """A message's direction."""

    IN = "in"
    OUT = "out"


OPEN: tuple[ConversationStatus, ...] = (ConversationStatus.WAITING, ConversationStatus.AGENT)
"""The statuses (of a conversation, and of its open handoff) while people are involved."""
