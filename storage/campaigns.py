"""Campaigns: one message or flow to a segment, one recipient row per customer written before
anything is sent, claimed by one process at a time (see `docs/guides/proactive.md`). The
messages themselves, the channel rule and the skip record are `storage.proactive`'s;
`CampaignStore` adds the campaign calls to `ProactiveStore`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, Table, and_, func, insert, or_, select, update

from storage.consents import check_purpose
from storage.proactive import (
    _CHUNK,
    REASONS,
    ProactiveStore,
    Target,
    _chunks,
    _consent_answers,
    decide_many,
    skip,
    write,
)
from storage.records import OutboxRow
from storage.tables import metadata

__all__ = ["CampaignStore", "segment_customers"]

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_consents: Table = metadata.tables["consents"]
_messages: Table = metadata.tables["messages"]
_outbox: Table = metadata.tables["outbox"]
_proactive: Table = metadata.tables["proactive_messages"]
_campaigns: Table = metadata.tables["campaigns"]


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


class CampaignStore(ProactiveStore):
    """Proactive messages and campaigns through a store (each call one transaction)."""

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
