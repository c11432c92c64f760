"""Proactive messages and campaigns: who may be sent what, on which channel, and the record.

The channel rule (`decide_many`), for a customer and a purpose:

1. the purpose must be allowed (`storage.consents.allows`: "service" needs no consent; any
   other purpose needs the customer's newest answer to be a yes);
2. the candidates, in order: the customer's identities on their preferred channel (the memory
   key `preferred_channel`, set by a flow or the API), then the identity they last wrote from,
   then every other identity, most recently seen first; only channels this Baton serves count;
3. the first candidate that may be sent to (`storage.outbound.sendable`: not opted out, not
   unreachable) is chosen. When none may, nothing is sent and the reason is recorded (the
   first candidate's opt-out or block; "no_channel" when the customer has no identity on a
   channel this Baton serves).

Every proactive message is a `proactive_messages` row written before anything is sent:
"queued" (its message and outbox rows written in the same transaction; the message's delivery
status tells the rest) or "skipped" with its reason. A campaign writes one "pending" row per
recipient when it starts (unique per campaign and customer) and queues them in batches, so a
campaign resumed after a kill never writes a second message for anyone.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, func, insert, select, update

from storage import outbound
from storage.consents import SERVICE, check_purpose
from storage.errors import ConsoleConflict
from storage.handoffs import record_event
from storage.records import OutboxRow
from storage.store import Store
from storage.tables import metadata
from storage.vocabulary import Author, ConversationStatus, HandoffStatus

__all__ = [
    "PREFERRED_KEY",
    "REASONS",
    "ProactiveRecord",
    "ProactiveStore",
    "Skip",
    "Target",
    "decide_many",
]

PREFERRED_KEY = "preferred_channel"
"""The memory key holding a customer's preferred channel ("telegram", "twilio", "slack")."""

REASONS = {
    "opted_out": "the customer opted out on {channel} (e.g. SMS STOP) and no other channel "
    "may be used",
    "unreachable": "the customer cannot be reached on {channel} (the platform refused: "
    "blocked or not found) and no other channel may be used",
    "no_consent": "the customer has not agreed to '{purpose}' messages",
    "consent_withdrawn": "the customer withdrew their consent to '{purpose}' messages",
    "no_channel": "the customer has no identity on a channel this Baton serves",
    "no_customer": "the customer no longer exists",
    "cancelled": "the campaign was cancelled before this message was queued",
    "no_flow": "the campaign's flow {flow!r} is not registered in the App",
    "uncertain": "Baton stopped while this message was being sent, so it may or may not have "
    "arrived; it is not sent again, so that nobody gets it twice",
}
"""Why a proactive message was not sent, by code."""

_CHUNK = 500
_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_consents: Table = metadata.tables["consents"]
_messages: Table = metadata.tables["messages"]
_outbox: Table = metadata.tables["outbox"]
_proactive: Table = metadata.tables["proactive_messages"]
_campaigns: Table = metadata.tables["campaigns"]
_conversations: Table = metadata.tables["conversations"]
_handoffs: Table = metadata.tables["handoffs"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a proactive message goes."""

    identity_id: int
    channel: str
    external_id: str
    route: str | None


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a proactive message may not be sent."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class ProactiveRecord:
    """A proactive message as recorded."""

    id: int
    customer_id: int
    campaign_id: int | None
    purpose: str
    text: str
    status: str
    """"pending", "queued", "sending", "skipped", "uncertain" or "started" (a flow campaign's
    flow); `delivery` tells the rest."""
    delivery: str | None
    """"pending", "sent", "delivered", "failed" ... (the message's delivery status)."""
    reason_code: str | None
    reason: str | None
    channel: str | None
    message_id: int | None
    source: str
    actor: str | None
    created_at: float

    @property
    def state(self) -> str:
        """One word for people: "pending", "sent", "skipped", "failed", "uncertain" or
        "started" (a flow campaign's flow)."""
        if self.status in ("skipped", "uncertain", "started"):
            return self.status
        if self.status == "pending" or self.delivery in (None, "pending"):
            return "pending"
        if self.delivery in ("failed", "not sent", "undelivered"):
            return "failed"
        return "sent"

    def to_json(self) -> dict[str, Any]:
        """The console's and the API's shape."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "purpose": self.purpose,
            "text": self.text,
            "status": self.state,
            "delivery_status": self.delivery,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "channel": self.channel,
            "message_id": self.message_id,
            "source": self.source,
            "actor": self.actor,
            "created_at": self.created_at,
        }


def skip(code: str, **values: str) -> Skip:
    """The `Skip` for a reason code, its text filled in."""
    return Skip(code, REASONS[code].format(**values))


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _consent_answers(conn: Connection, ids: Sequence[int], purpose: str) -> dict[int, bool]:
    """The newest answer per customer for `purpose` (absent: never answered)."""
    out: dict[int, bool] = {}
    for part in _chunks(ids):
        newest = (
            select(func.max(_consents.c.id))
            .where(_consents.c.customer_id.in_(part), _consents.c.purpose == purpose)
            .group_by(_consents.c.customer_id)
        )
        for cid, granted in conn.execute(
            select(_consents.c.customer_id, _consents.c.granted).where(_consents.c.id.in_(newest))
        ):
            out[int(cid)] = bool(granted)
    return out


def decide_many(
    conn: Connection, customer_ids: Sequence[int], purpose: str, channels: Collection[str]
) -> dict[int, Target | Skip]:
    """Apply the module's channel rule to each customer (a few statements for all)."""
    check_purpose(purpose)
    ids = list(dict.fromkeys(customer_ids))
    customers: dict[int, tuple[dict[str, Any], int | None]] = {}
    idents: dict[int, list[tuple[Any, ...]]] = {}
    for part in _chunks(ids):
        for cid, memory, last in conn.execute(
            select(_customers.c.id, _customers.c.memory, _customers.c.last_identity_id).where(
                _customers.c.id.in_(part)
            )
        ):
            customers[int(cid)] = (dict(memory or {}), last)
        for r in conn.execute(
            select(
                _identities.c.customer_id,
                _identities.c.id,
                _identities.c.channel,
                _identities.c.external_id,
                _identities.c.route,
                _identities.c.opted_out,
                _identities.c.unreachable,
                _identities.c.last_seen_at,
            )
            .where(_identities.c.customer_id.in_(part))
            .order_by(_identities.c.last_seen_at.desc(), _identities.c.id.desc())
        ):
            idents.setdefault(int(r[0]), []).append(tuple(r[1:]))
    answers = {} if purpose == SERVICE else _consent_answers(conn, ids, purpose)
    out: dict[int, Target | Skip] = {}
    for cid in ids:
        if cid not in customers:
            out[cid] = skip("no_customer")
            continue
        if purpose != SERVICE and not answers.get(cid):
            code = "consent_withdrawn" if cid in answers else "no_consent"
            out[cid] = skip(code, purpose=purpose)
            continue
        memory, last = customers[cid]
        out[cid] = _choose(idents.get(cid, []), memory.get(PREFERRED_KEY), last, channels)
    return out


def _choose(
    idents: list[tuple[Any, ...]], preferred: object, last: int | None, channels: Collection[str]
) -> Target | Skip:
    """The rule's steps 2 and 3 over one customer's identities (most recently seen first)."""
    served = [i for i in idents if i[1] in channels]
    if not served:
        return skip("no_channel")
    ordered = [i for i in served if i[1] == preferred]
    ordered += [i for i in served if i[0] == last and i not in ordered]
    ordered += [i for i in served if i not in ordered]
    for identity_id, channel, external_id, route, opted_out, unreachable, _ in ordered:
        if outbound.sendable(opted_out=bool(opted_out), unreachable=bool(unreachable)):
            return Target(int(identity_id), str(channel), str(external_id), route)
    first = ordered[0]
    return skip("opted_out" if first[4] else "unreachable", channel=str(first[1]))


def write(
    conn: Connection,
    owner: str,
    decision: Target | Skip,
    *,
    customer_id: int,
    prompt: Mapping[str, Any],
    purpose: str,
    source: str,
    actor: str | None,
    author: str = Author.BOT,
    extra: Mapping[str, Any] | None = None,
    row_id: int | None = None,
    campaign_id: int | None = None,
    now: float,
) -> tuple[int, list[OutboxRow]]:
    """Record one proactive message (and queue it when `decision` is a `Target`); its id and
    the outbox rows to send. `row_id` is an existing pending row (a campaign recipient)."""
    values: dict[str, Any] = {"updated_at": now}
    rows: list[OutboxRow] = []
    if isinstance(decision, Skip):
        values.update(status="skipped", reason_code=decision.code, reason=decision.reason)
    else:
        values.update(status="queued", channel=decision.channel, identity_id=decision.identity_id)
    if row_id is None:
        row_id = int(
            conn.execute(
                insert(_proactive).returning(_proactive.c.id),
                {
                    "customer_id": customer_id,
                    "campaign_id": campaign_id,
                    "purpose": purpose,
                    "payload": dict(prompt),
                    "source": source,
                    "actor": actor,
                    "created_at": now,
                    "status": "pending",
                    **values,
                },
            ).scalar_one()
        )
    if isinstance(decision, Target):
        marker = {"proactive": {"id": row_id, "purpose": purpose}}
        payload = {**prompt, **marker}
        conversation_id = conn.execute(
            select(_customers.c.conversation_id).where(_customers.c.id == customer_id)
        ).scalar()
        message = outbound.message_row(
            customer_id=customer_id,
            conversation_id=conversation_id,
            author=str(author),
            channel=decision.channel,
            identity_id=decision.identity_id,
            text=str(prompt.get("text", "")),
            payload={**payload, **(extra or {})},
            send=True,
            now=now,
        )
        message_id = int(
            conn.execute(insert(_messages).returning(_messages.c.id), message).scalar_one()
        )
        out = outbound.outbox_row(
            owner=owner,
            customer_id=customer_id,
            message_id=message_id,
            channel=decision.channel,
            identity_id=decision.identity_id,
            external_id=decision.external_id,
            route=decision.route,
            payload=payload,
            now=now,
        )
        outbox_id = int(conn.execute(insert(_outbox).returning(_outbox.c.id), out).scalar_one())
        rows.append(outbound.outbox_record(outbox_id, out))
        values.update(message_id=message_id, outbox_id=outbox_id)
    conn.execute(update(_proactive).where(_proactive.c.id == row_id).values(**values))
    return row_id, rows


def recheck(
    conn: Connection,
    owner: str,
    row_id: int,
    customer_id: int,
    *,
    purpose: str,
    identity_id: int | None,
    outbox_id: int,
) -> Skip | None:
    """Just before a queued proactive message leaves: still allowed, still reachable, and not
    perhaps sent already? When it may leave, it is marked "sending" by `owner` first (in this
    transaction); when not, it is marked skipped (or "uncertain") and the reason returned.

    "Uncertain": another process marked it "sending" and no outcome of that attempt was
    recorded since (the outbox row's attempts are what they were at the mark: the process was
    killed mid-send). The platform may have it, so it is not sent again; nobody gets a
    proactive message twice. An attempt whose failure was recorded (a 429, a timeout) counts
    one more attempt, so the message is sent again as usual."""
    now = time.time()
    state = conn.execute(
        select(_proactive.c.status, _proactive.c.sending_by, _proactive.c.sending_attempts).where(
            _proactive.c.id == row_id
        )
    ).first()
    attempts = conn.execute(select(_outbox.c.attempts).where(_outbox.c.id == outbox_id)).scalar()
    found: Skip | None = None
    if (
        state is not None
        and state[0] == "sending"
        and state[1] != owner
        and state[2] is not None
        and state[2] == attempts
    ):
        found = skip("uncertain")
    if found is None and purpose != SERVICE:
        answer = _consent_answers(conn, [customer_id], purpose).get(customer_id)
        if not answer:
            found = skip("no_consent" if answer is None else "consent_withdrawn", purpose=purpose)
    if found is None and identity_id is not None:
        flags = conn.execute(
            select(
                _identities.c.channel, _identities.c.opted_out, _identities.c.unreachable
            ).where(_identities.c.id == identity_id)
        ).first()
        if flags is not None and not outbound.sendable(
            opted_out=bool(flags[1]), unreachable=bool(flags[2])
        ):
            found = skip("opted_out" if flags[1] else "unreachable", channel=str(flags[0]))
    if found is None:
        conn.execute(
            update(_proactive)
            .where(_proactive.c.id == row_id)
            .values(status="sending", sending_by=owner, sending_attempts=attempts, updated_at=now)
        )
        return None
    conn.execute(
        update(_proactive)
        .where(_proactive.c.id == row_id)
        .values(
            status="uncertain" if found.code == "uncertain" else "skipped",
            reason_code=found.code,
            reason=found.reason,
            updated_at=now,
        )
    )
    return found


def _proactive_rows(conn: Connection, cond: Any, limit: int) -> list[ProactiveRecord]:
    q = (
        select(_proactive, _messages.c.delivery_status)
        .select_from(_proactive.outerjoin(_messages, _messages.c.id == _proactive.c.message_id))
        .where(cond)
        .order_by(_proactive.c.id.desc())
        .limit(limit)
    )
    return [
        ProactiveRecord(
            id=int(r["id"]),
            customer_id=int(r["customer_id"]),
            campaign_id=r["campaign_id"],
            purpose=str(r["purpose"]),
            text=str((r["payload"] or {}).get("text", "")),
            status=str(r["status"]),
            delivery=r["delivery_status"],
            reason_code=r["reason_code"],
            reason=r["reason"],
            channel=r["channel"],
            message_id=r["message_id"],
            source=str(r["source"]),
            actor=r["actor"],
            created_at=float(r["created_at"]),
        )
        for r in conn.execute(q).mappings()
    ]


class ProactiveStore:
    """Proactive messages through a store (each call one transaction); campaigns are
    `storage.campaigns.CampaignStore`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._run = store._runner.run

    @property
    def owner(self) -> str:
        """This process's name in claims."""
        return self._store.owner

    async def send(
        self,
        customer_id: int,
        prompt: Mapping[str, Any],
        *,
        purpose: str,
        channels: Collection[str],
        source: str,
        actor: str | None = None,
        author: str = Author.BOT,
        extra: Mapping[str, Any] | None = None,
        claim: bool = True,
    ) -> tuple[ProactiveRecord, list[OutboxRow]]:
        """Decide and record one proactive message; LookupError for an unknown customer.
        `claim` False leaves its outbox row to whichever Baton sweeps first (`baton send`)."""

        def txn(conn: Connection) -> tuple[ProactiveRecord, list[OutboxRow]]:
            decision = decide_many(conn, [customer_id], purpose, channels)[customer_id]
            if isinstance(decision, Skip) and decision.code == "no_customer":
                raise LookupError(f"no customer {customer_id}")
            row_id, rows = write(
                conn,
                self._store.owner,
                decision,
                customer_id=customer_id,
                prompt=prompt,
                purpose=purpose,
                source=source,
                actor=actor,
                author=author,
                extra=extra,
                now=time.time(),
            )
            if not claim and rows:
                conn.execute(
                    update(_outbox)
                    .where(_outbox.c.id.in_([r.id for r in rows]))
                    .values(claimed_by=None, claim_until=None)
                )
                rows = []
            return _proactive_rows(conn, _proactive.c.id == row_id, 1)[0], rows

        return await self._run(txn)

    async def recheck(self, row_id: int, outbox: OutboxRow, purpose: str) -> Skip | None:
        """See `recheck`: `outbox` is the row about to be sent."""
        owner = self._store.owner
        return await self._run(
            lambda conn: recheck(
                conn,
                owner,
                row_id,
                outbox.customer_id,
                purpose=purpose,
                identity_id=outbox.identity_id,
                outbox_id=outbox.id,
            )
        )

    async def of_customer(self, customer_id: int, *, limit: int = 100) -> list[ProactiveRecord]:
        """A customer's proactive and campaign messages, newest first."""
        return await self._run(
            lambda conn: _proactive_rows(conn, _proactive.c.customer_id == customer_id, limit)
        )

    async def of_campaign(
        self, campaign_id: int, *, status: str | None = None, limit: int = 100
    ) -> list[ProactiveRecord]:
        """A campaign's recipients (newest first), optionally only those in `status`."""
        cond = _proactive.c.campaign_id == campaign_id
        if status is not None:
            cond = and_(cond, _proactive.c.status == status)
        return await self._run(lambda conn: _proactive_rows(conn, cond, limit))

    async def customer_exists(self, customer_id: int) -> bool:
        """Whether there is a customer with this id."""
        return await self._run(
            lambda conn: (
                conn.execute(select(_customers.c.id).where(_customers.c.id == customer_id)).first()
                is not None
            )
        )

    async def prefer(self, customer_id: int, channel: str | None) -> bool:
        """Set (or clear, with None) a customer's preferred channel; False if no customer."""

        def txn(conn: Connection) -> bool:
            memory = conn.execute(
                select(_customers.c.memory).where(_customers.c.id == customer_id)
            ).first()
            if memory is None:
                return False
            changed = dict(memory[0] or {})
            if channel is None:
                changed.pop(PREFERRED_KEY, None)
            else:
                changed[PREFERRED_KEY] = channel
            conn.execute(
                update(_customers).where(_customers.c.id == customer_id).values(memory=changed)
            )
            return True

        return await self._run(txn)

    async def start_conversation(
        self, customer_id: int, agent_id: int, *, admin: bool, reason: str
    ) -> int:
        """An agent opens a conversation with a customer whose conversation is with the bot or
        resolved: it is held by that agent at once (a handoff claimed by them, trigger
        "agent"), so their replies reach the customer's current channel. Admins may with any
        customer; an agent with a customer they helped before. The conversation id.

        Raises:
            LookupError: no such customer, or (for an agent) none they helped before.
            ConsoleConflict("open"): the conversation is already waiting or with an agent.
        """

        def txn(conn: Connection) -> int:
            now = time.time()
            row = conn.execute(
                select(_customers.c.conversation_id).where(_customers.c.id == customer_id)
            ).first()
            if row is None or row[0] is None:
                raise LookupError(f"no customer {customer_id}")
            conversation_id = int(row[0])
            if not admin:
                helped = conn.execute(
                    select(_handoffs.c.id)
                    .where(
                        _handoffs.c.customer_id == customer_id, _handoffs.c.agent_id == agent_id
                    )
                    .limit(1)
                ).first()
                if helped is None:
                    raise LookupError(f"no customer {customer_id} this agent helped before")
            moved = conn.execute(
                update(_conversations)
                .where(
                    _conversations.c.id == conversation_id,
                    _conversations.c.status.in_(
                        (ConversationStatus.BOT, ConversationStatus.RESOLVED)
                    ),
                )
                .values(status=ConversationStatus.AGENT, status_at=now, handoff_reason=reason)
            )
            if not moved.rowcount:
                raise ConsoleConflict(
                    "open", "the conversation is already open: find it in the queue"
                )
            handoff_id = int(
                conn.execute(
                    insert(_handoffs).returning(_handoffs.c.id),
                    {
                        "customer_id": customer_id,
                        "conversation_id": conversation_id,
                        "status": HandoffStatus.AGENT,
                        "trigger": "agent",
                        "reason": reason,
                        "summary": {},
                        "created_at": now,
                        "position_at_entry": 0,
                        "deadline_at": now,
                        "agent_id": agent_id,
                        "claimed_at": now,
                        "first_reply_at": None,
                    },
                ).scalar_one()
            )
            record_event(
                conn,
                (handoff_id, customer_id, conversation_id),
                "started",
                agent=agent_id,
                detail={"reason": reason},
                now=now,
            )
            return conversation_id

        return await self._run(txn)

    async def channels_of(self, customer_id: int) -> list[str]:
        """The channels a customer has an identity on."""
        return await self._run(
            lambda conn: sorted(
                {
                    str(c)
                    for (c,) in conn.execute(
                        select(_identities.c.channel).where(
                            _identities.c.customer_id == customer_id
                        )
                    )
                }
            )
        )

    # -- campaigns ------------------------------------------------------------------------------
