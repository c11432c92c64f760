"""The one writer of outbound messages: a message row and, when the customer can be reached,
its outbox row. A turn's bot replies (the hot path, in one batch with the turn's other rows),
agents' replies and notices (queue places, "an agent joined", closing words) all take their
rows and their reachability from here.

Never send to an opted-out or unreachable identity: `sendable` is that rule. A message that
may not leave is still recorded, with delivery status "not sent" and the one reason
`UNSENT_REASON` names (the console shows it on the message). A turn gets the identity's flags
with its claim (no extra query) and passes `ReplyWrite(send=reachable(flags))`; the console's
writes read the flags of the customer's current identity in their own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, select

from storage.records import OutboxRow
from storage.tables import metadata
from storage.vocabulary import Author, Direction

__all__ = [
    "OUTBOX_CLAIM",
    "UNSENT_REASON",
    "message_row",
    "outbox_record",
    "outbox_row",
    "reachable",
    "say",
    "say_one",
    "sendable",
    "unsent_reason",
]

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_messages: Table = metadata.tables["messages"]
_outbox: Table = metadata.tables["outbox"]

OUTBOX_CLAIM = 120.0
"""Seconds a process owns the replies it created before others may send them."""
_OUT = Direction.OUT.value  # a plain str, looked up once (this runs for every reply)
UNSENT_REASON = "the customer opted out or cannot be reached on {channel}"
"""The error recorded on a message that was not sent because of its identity's flags."""


def sendable(*, opted_out: bool, unreachable: bool) -> bool:
    """Whether a message may leave for an identity with these flags."""
    return not (opted_out or unreachable)


def reachable(flags: Mapping[str, bool]) -> bool:
    """`sendable` on an identity's flags as a turn holds them ({"opted_out": ..., ...})."""
    return sendable(
        opted_out=bool(flags.get("opted_out")), unreachable=bool(flags.get("unreachable"))
    )


def unsent_reason(channel: str) -> str:
    """The error recorded on a message that may not leave on `channel`."""
    return UNSENT_REASON.format(channel=channel)


def message_row(
    *,
    customer_id: int,
    conversation_id: int | None,
    author: str,
    channel: str,
    identity_id: int | None,
    text: str | None,
    payload: Mapping[str, Any] | None,
    send: bool,
    now: float,
) -> dict[str, Any]:
    """The values of an outbound message row."""
    return {
        "customer_id": customer_id,
        "conversation_id": conversation_id,
        "direction": _OUT,
        "author": author,
        "channel": channel,
        "identity_id": identity_id,
        "text": text,
        "payload": payload,
        "platform_message_id": None,
        "delivery_status": "pending" if send else "not sent",
        "error": None if send else unsent_reason(channel),
        "created_at": now,
    }


def outbox_row(
    *,
    owner: str,
    customer_id: int,
    message_id: int,
    channel: str,
    identity_id: int | None,
    external_id: str,
    route: str | None,
    payload: Mapping[str, Any],
    now: float,
) -> dict[str, Any]:
    """The values of an outbox row: pending, claimed by `owner` for `OUTBOX_CLAIM`."""
    return {
        "customer_id": customer_id,
        "message_id": message_id,
        "channel": channel,
        "identity_id": identity_id,
        "external_id": external_id,
        "route": route,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_by": owner,
        "claim_until": now + OUTBOX_CLAIM,
        "created_at": now,
    }


def outbox_record(outbox_id: int, values: Mapping[str, Any]) -> OutboxRow:
    """The `OutboxRow` the sender gets for an outbox row just written with `values`."""
    return OutboxRow(
        outbox_id,
        values["customer_id"],
        values["message_id"],
        values["channel"],
        values["identity_id"],
        values["external_id"],
        values["route"],
        values["payload"],
        0,
        values["next_attempt_at"],
    )


def say(
    conn: Connection,
    owner: str,
    to: tuple[int, int],
    prompts: Sequence[Mapping[str, Any]],
    now: float,
) -> list[OutboxRow]:
    """Write bot notices to the customer's current identity; the outbox rows to send. `to`
    is (customer id, conversation id)."""
    rows: list[OutboxRow] = []
    for prompt in prompts:
        rows.extend(say_one(conn, owner, to, prompt, now)[1])
    return rows


_IDENTITY_COLUMNS = (
    _identities.c.id,
    _identities.c.channel,
    _identities.c.external_id,
    _identities.c.route,
    _identities.c.opted_out,
    _identities.c.unreachable,
)


def say_one(
    conn: Connection,
    owner: str,
    to: tuple[int, int],
    prompt: Mapping[str, Any],
    now: float,
    *,
    author: str = Author.BOT,
    extra: Mapping[str, Any] | None = None,
) -> tuple[int, list[OutboxRow]]:
    """Record one outbound message to the customer's current identity and queue it unless
    the identity may not be sent to; (message id, outbox rows to send). `to` is (customer
    id, conversation id)."""
    customer_id, conversation_id = to
    ident = conn.execute(
        select(*_IDENTITY_COLUMNS)
        .join(_customers, _customers.c.last_identity_id == _identities.c.id)
        .where(_customers.c.id == customer_id)
    ).first()
    if ident is None:  # never wrote from anywhere: fall back to their first identity
        ident = conn.execute(
            select(*_IDENTITY_COLUMNS)
            .where(_identities.c.customer_id == customer_id)
            .order_by(_identities.c.id)
            .limit(1)
        ).one()
    identity_id, channel, external_id, route, opted_out, unreachable = ident
    send = sendable(opted_out=bool(opted_out), unreachable=bool(unreachable))
    payload = dict(prompt)
    message = message_row(
        customer_id=customer_id,
        conversation_id=conversation_id,
        author=str(author),
        channel=channel,
        identity_id=identity_id,
        text=str(prompt.get("text", "")),
        payload={**payload, **(extra or {})},
        send=send,
        now=now,
    )
    message_id = int(
        conn.execute(insert(_messages).returning(_messages.c.id), message).scalar_one()
    )
    if not send:
        return message_id, []
    values = outbox_row(
        owner=owner,
        customer_id=customer_id,
        message_id=message_id,
        channel=channel,
        identity_id=identity_id,
        external_id=external_id,
        route=route,
        payload=payload,
        now=now,
    )
    outbox_id = int(conn.execute(insert(_outbox).returning(_outbox.c.id), values).scalar_one())
    return message_id, [outbox_record(outbox_id, values)]
