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

from sqlalchemy import Connection, Table, and_, func, insert, or_, select, update

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
    "segment_customers",
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


def segment_customers(conn: Connection, segment: Mapping[str, Any]) -> list[int]:
    """The ids of the customers a campaign segment selects, in id order.

    `segment` keys (all optional, all must hold): "consent" (a purpose the customer's newest
    answer grants), "memory" ({key: value} equal in the customer's memory), "seen_after" and
    "seen_before" (Unix times; the customer's last message), "customers" (a list of ids).
    """
    q = select(_customers.c.id, _customers.c.memory).order_by(_customers.c.id)
    if segment.get("seen_after") is not None:
        q = q.where(_customers.c.last_seen_at >= float(segment["seen_after"]))
    if segment.get("seen_before") is not None:
        q = q.where(_customers.c.last_seen_at < float(segment["seen_before"]))
    wanted = segment.get("customers")
    rows: list[tuple[int, dict[str, Any]]] = []
    if wanted is not None:
        for part in _chunks(sorted({int(i) for i in wanted})):
            rows += [
                (int(c), m or {}) for c, m in conn.execute(q.where(_customers.c.id.in_(part)))
            ]
    else:
        rows = [(int(c), m or {}) for c, m in conn.execute(q)]
    memory = dict(segment.get("memory") or {})
    if memory:
        rows = [(c, m) for c, m in rows if all(m.get(k) == v for k, v in memory.items())]
    ids = [c for c, _ in rows]
    consent = segment.get("consent")
    if consent:
        answers = _consent_answers(conn, ids, check_purpose(str(consent)))
        ids = [c for c in ids if answers.get(c)]
    return ids


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
    """Proactive messages and campaigns through a store (each call one transaction)."""

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

    async def create_campaign(
        self,
        *,
        name: str,
        purpose: str,
        prompt: Mapping[str, Any],
        segment: Mapping[str, Any],
        channels: Collection[str],
        actor: str | None,
    ) -> tuple[int | None, int]:
        """Select the segment and write one pending row per recipient (with the channel the
        rule picks now, for throttling); (campaign id, recipients). A segment selecting
        nobody records nothing: (None, 0)."""

        def txn(conn: Connection) -> tuple[int | None, int]:
            now = time.time()
            ids = segment_customers(conn, segment)
            if not ids:
                return None, 0
            campaign_id = int(
                conn.execute(
                    insert(_campaigns).returning(_campaigns.c.id),
                    {
                        "name": name,
                        "purpose": purpose,
                        "payload": dict(prompt),
                        "segment": dict(segment),
                        "status": "running",
                        "total": len(ids),
                        "created_by": actor,
                        "created_at": now,
                        "finished_at": None,
                    },
                ).scalar_one()
            )
            planned = decide_many(conn, ids, purpose, channels)
            rows = [
                {
                    "customer_id": cid,
                    "campaign_id": campaign_id,
                    "purpose": purpose,
                    "payload": dict(prompt),
                    "status": "pending",
                    "channel": d.channel if isinstance(d, Target) else None,
                    "source": "campaign",
                    "actor": actor,
                    "created_at": now,
                    "updated_at": now,
                }
                for cid, d in planned.items()
            ]
            for i in range(0, len(rows), _CHUNK):
                conn.execute(insert(_proactive), rows[i : i + _CHUNK])
            return campaign_id, len(ids)

        return await self._run(txn)

    async def campaign(self, campaign_id: int) -> dict[str, Any] | None:
        """A campaign and its progress, or None."""
        return await self._run(lambda conn: _campaign_json(conn, campaign_id))

    async def campaigns(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest campaigns with their progress."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            ids = conn.execute(
                select(_campaigns.c.id).order_by(_campaigns.c.id.desc()).limit(limit)
            ).scalars()
            return [c for c in (_campaign_json(conn, int(i)) for i in ids) if c is not None]

        return await self._run(read)

    async def claim_campaigns(self, seconds: float) -> list[dict[str, Any]]:
        """Take (or renew) the lease of running campaigns nobody else drives."""

        def txn(conn: Connection) -> list[dict[str, Any]]:
            now = time.time()
            cond = and_(
                _campaigns.c.status == "running",
                or_(
                    _campaigns.c.claim_until.is_(None),
                    _campaigns.c.claim_until < now,
                    _campaigns.c.claimed_by == self._store.owner,
                ),
            )
            ids = list(conn.execute(select(_campaigns.c.id).where(cond)).scalars())
            if not ids:
                return []
            conn.execute(
                update(_campaigns)
                .where(_campaigns.c.id.in_(ids), cond)
                .values(claimed_by=self._store.owner, claim_until=now + seconds)
            )
            return [
                dict(r)
                for r in conn.execute(
                    select(_campaigns).where(
                        _campaigns.c.id.in_(ids), _campaigns.c.claimed_by == self._store.owner
                    )
                ).mappings()
            ]

        return await self._run(txn)

    async def in_flight(self, campaign_id: int) -> dict[str, int]:
        """Queued recipients whose outbox row is still pending, per channel (read from the
        pending outbox rows, a few, not from the campaign's recipients, maybe many)."""

        def read(conn: Connection) -> dict[str, int]:
            q = (
                select(_proactive.c.channel, func.count())
                .select_from(_outbox.join(_proactive, _proactive.c.outbox_id == _outbox.c.id))
                .where(_outbox.c.status == "pending", _proactive.c.campaign_id == campaign_id)
                .group_by(_proactive.c.channel)
            )
            return {str(c): int(n) for c, n in conn.execute(q)}

        return await self._run(read)

    async def queue_recipients(
        self,
        campaign: Mapping[str, Any],
        room: Mapping[str | None, int],
        channels: Collection[str],
        starts: list[tuple[int, int, Target]] | None = None,
    ) -> tuple[list[OutboxRow], int, bool]:
        """Queue up to `room[channel]` pending recipients planned for each channel (the key
        None: those with no channel, which are skipped); (outbox rows, rows decided, whether
        any recipient is still pending). Marks the campaign done when none is.

        For a flow campaign, recipients who may be written to are not queued but appended to
        `starts` as (row id, customer id, target): the caller starts their flow and marks
        them with `mark_started`."""
        if starts is None:
            starts = []

        def txn(conn: Connection) -> tuple[list[OutboxRow], int, bool]:
            now = time.time()
            starts.clear()
            cid = int(campaign["id"])
            base = and_(_proactive.c.campaign_id == cid, _proactive.c.status == "pending")
            picked: list[tuple[int, int]] = []
            for channel, n in room.items():
                if n <= 0:
                    continue
                on = (
                    _proactive.c.channel.is_(None)
                    if channel is None
                    else (_proactive.c.channel == channel)
                )
                picked += [
                    (int(r), int(c))
                    for r, c in conn.execute(
                        select(_proactive.c.id, _proactive.c.customer_id)
                        .where(base, on)
                        .order_by(_proactive.c.id)
                        .limit(n)
                    )
                ]
            rows: list[OutboxRow] = []
            if picked:
                purpose = str(campaign["purpose"])
                decisions = decide_many(conn, [c for _, c in picked], purpose, channels)
                for row_id, customer_id in picked:
                    decision = decisions[customer_id]
                    if "flow" in campaign["payload"] and isinstance(decision, Target):
                        # A flow campaign: the runner starts the flow (idempotent by key),
                        # then marks the row started; it stays pending until then.
                        starts.append((row_id, customer_id, decision))
                        continue
                    _, out = write(
                        conn,
                        self._store.owner,
                        decision,
                        customer_id=customer_id,
                        prompt=campaign["payload"],
                        purpose=purpose,
                        source="campaign",
                        actor=campaign["created_by"],
                        row_id=row_id,
                        now=now,
                    )
                    rows += out
            left = conn.execute(select(_proactive.c.id).where(base).limit(1)).first()
            if left is None and not starts:
                conn.execute(
                    update(_campaigns)
                    .where(_campaigns.c.id == cid, _campaigns.c.status == "running")
                    .values(status="done", finished_at=now, claimed_by=None, claim_until=None)
                )
            return rows, len(picked), left is not None

        return await self._run(txn)

    async def mark_started(self, row_id: int, target: Target) -> None:
        """A flow campaign's recipient whose flow is started ("started", on `target`)."""

        def txn(conn: Connection) -> None:
            conn.execute(
                update(_proactive)
                .where(_proactive.c.id == row_id, _proactive.c.status == "pending")
                .values(
                    status="started",
                    channel=target.channel,
                    identity_id=target.identity_id,
                    updated_at=time.time(),
                )
            )

        await self._run(txn)

    async def skip_recipient(self, row_id: int, code: str, **values: str) -> None:
        """A pending campaign recipient skipped with the reason `code`."""
        found = skip(code, **values)

        def txn(conn: Connection) -> None:
            conn.execute(
                update(_proactive)
                .where(_proactive.c.id == row_id, _proactive.c.status == "pending")
                .values(
                    status="skipped",
                    reason_code=found.code,
                    reason=found.reason,
                    updated_at=time.time(),
                )
            )

        await self._run(txn)

    async def finish_campaign(self, campaign_id: int) -> None:
        """Mark a running campaign done when no recipient is pending."""

        def txn(conn: Connection) -> None:
            left = conn.execute(
                select(_proactive.c.id)
                .where(_proactive.c.campaign_id == campaign_id, _proactive.c.status == "pending")
                .limit(1)
            ).first()
            if left is None:
                conn.execute(
                    update(_campaigns)
                    .where(_campaigns.c.id == campaign_id, _campaigns.c.status == "running")
                    .values(
                        status="done", finished_at=time.time(), claimed_by=None, claim_until=None
                    )
                )

        await self._run(txn)

    async def pending_channels(self, campaign_id: int) -> list[str | None]:
        """The planned channels of a campaign's pending recipients."""
        return await self._run(
            lambda conn: [
                c
                for (c,) in conn.execute(
                    select(_proactive.c.channel)
                    .where(
                        _proactive.c.campaign_id == campaign_id, _proactive.c.status == "pending"
                    )
                    .distinct()
                )
            ]
        )

    async def cancel_campaign(self, campaign_id: int) -> bool:
        """Stop a campaign: its pending recipients are skipped ("cancelled"); queued ones
        still leave. False if there is no running campaign with this id."""

        def txn(conn: Connection) -> bool:
            now = time.time()
            done = conn.execute(
                update(_campaigns)
                .where(_campaigns.c.id == campaign_id, _campaigns.c.status == "running")
                .values(status="cancelled", finished_at=now, claimed_by=None, claim_until=None)
            )
            if not done.rowcount:
                return False
            conn.execute(
                update(_proactive)
                .where(_proactive.c.campaign_id == campaign_id, _proactive.c.status == "pending")
                .values(
                    status="skipped",
                    reason_code="cancelled",
                    reason=REASONS["cancelled"],
                    updated_at=now,
                )
            )
            return True

        return await self._run(txn)


def _campaign_json(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(_campaigns).where(_campaigns.c.id == campaign_id)).mappings().first()
    if row is None:
        return None
    counts = {"pending": 0, "queued": 0, "sent": 0, "failed": 0, "skipped": 0, "uncertain": 0}
    q = (
        select(_proactive.c.status, _messages.c.delivery_status, func.count())
        .select_from(_proactive.outerjoin(_messages, _messages.c.id == _proactive.c.message_id))
        .where(_proactive.c.campaign_id == campaign_id)
        .group_by(_proactive.c.status, _messages.c.delivery_status)
    )
    flow = (row["payload"] or {}).get("flow")
    if flow is not None:
        counts["started"] = 0
    for status, delivery, n in conn.execute(q):
        if status == "started":
            counts["started"] += int(n)
        elif status in ("pending", "skipped", "uncertain"):
            counts[status] += int(n)
        elif delivery in (None, "pending"):
            counts["queued"] += int(n)
        elif delivery in ("failed", "not sent", "undelivered"):
            counts["failed"] += int(n)
        else:
            counts["sent"] += int(n)
    reasons = {
        str(code): int(n)
        for code, n in conn.execute(
            select(_proactive.c.reason_code, func.count())
            .where(_proactive.c.campaign_id == campaign_id, _proactive.c.status == "skipped")
            .group_by(_proactive.c.reason_code)
        )
    }
    return {
        "id": int(row["id"]),
        "name": row["name"],
        "purpose": row["purpose"],
        "text": (row["payload"] or {}).get("text", ""),
        **({} if flow is None else {"flow": flow, "args": row["payload"].get("args", {})}),
        "segment": row["segment"],
        "status": row["status"],
        "total": int(row["total"]),
        "counts": counts,
        "skipped_reasons": reasons,
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
    }
