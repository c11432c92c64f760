"""SQL for one customer across channels: linking codes, phone proofs, merges and unlinks.
Part of the storage layer.

Linking happens only on proof:

- a Telegram contact share of the sender's own contact proves an E.164 number for that
  Telegram identity (`prove_phone`); the SMS identity of that number joins the customer, now
  or when the number first texts in (`storage.proofs.proven_owner`, asked by the store's
  accept path);
- a one-time code (`new_code` / `redeem`): ten digits shown as "12345-67890", valid ten
  minutes, single use. The first five digits select the code, the last five verify it. Only
  HMAC-SHA256 digests of both are stored, keyed with a random per-install secret kept in
  `install_secrets`; the verifier digest is compared with `hmac.compare_digest`. Wrong codes
  are limited per identity (5 in 10 minutes, then a 15 minute cool-down, even for right
  codes) and per code (5 wrong verifiers and the code is burned), and every failure gives the
  same result whether a code exists or not;
- an agent or admin (`link`, `unlink`).

Linking merges two customers (`storage.merges`): every row of the other customer is
re-pointed and the ids that moved are written to the append-only `merge_log`, which `unlink`
reads to move them back. Writes go through the store's group commit; each runs in one
transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.merges import MOVED, Merged, Unlinked, merge, unlink
from storage.proofs import SMS_CHANNEL
from storage.store import Store
from storage.tables import metadata

__all__ = [
    "CODE_TTL",
    "Linking",
    "Merged",
    "Redeemed",
    "Unlinked",
    "parse_code",
]

CODE_TTL = 600.0
"""Seconds a linking code stays valid."""
MAX_FAILURES = 5
"""Wrong codes per identity per window, and wrong verifiers per code."""
FAILURE_WINDOW = 600.0
COOL_DOWN = 900.0

_customers: Table = metadata.tables["customers"]
_identities: Table = metadata.tables["identities"]
_codes: Table = metadata.tables["link_codes"]
_throttle: Table = metadata.tables["link_throttle"]
_proofs: Table = metadata.tables["phone_proofs"]
_log: Table = metadata.tables["merge_log"]
_secrets: Table = metadata.tables["install_secrets"]


_CODE = re.compile(r"^\s*(?:link\s*:?\s*)?(\d{5})[-\s](\d{5})\s*$", re.IGNORECASE)
_START = re.compile(r"^link[-_](\d{5})(\d{5})$")


def parse_code(text: str | None, *, start_payload: str | None = None) -> str | None:
    """The ten digits of a linking code in a message ("12345-67890", "link 12345 67890") or
    a Telegram `/start link-1234567890` payload; None when the message is not code-shaped."""
    if start_payload:
        m = _START.match(start_payload.strip())
        if m:
            return m.group(1) + m.group(2)
    if text:
        m = _CODE.match(text)
        if m:
            return m.group(1) + m.group(2)
    return None


@dataclass(frozen=True, slots=True)
class Redeemed:
    """The outcome of a code: "linked", "already" (same customer), "invalid" or "throttled".
    "invalid" is the same for an unknown, expired, used or mistyped code."""

    status: str
    merged: Merged | None = None
    code_channel: str | None = None
    """The channel the code was asked for on (for "linked" and "already")."""


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _each(conn: Connection, ops: Sequence[Callable[[Connection], Any]]) -> list[Any]:
    return [op(conn) for op in ops]


class Linking:
    """Linking and unlinking of identities, next to a `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._runner = store._runner
        self._batch = store._batch
        self._secret: bytes | None = None

    async def _run(self, op: Callable[[Connection], Any]) -> Any:
        return await self._batch.submit(_each, op)

    # -- codes -----------------------------------------------------------------------------

    def _key(self, conn: Connection) -> bytes:
        if self._secret is None:
            row = conn.execute(
                select(_secrets.c.value).where(_secrets.c.name == "link_codes")
            ).first()
            if row is None:
                value = secrets.token_hex(32)
                # Two processes may race here; the primary key keeps one and both re-read it.
                conn.execute(
                    _insert(conn, _secrets).on_conflict_do_nothing(index_elements=["name"]),
                    {"name": "link_codes", "value": value, "created_at": time.time()},
                )
                row = conn.execute(
                    select(_secrets.c.value).where(_secrets.c.name == "link_codes")
                ).one()
            self._secret = bytes.fromhex(str(row[0]))
        return self._secret

    def _digest(self, conn: Connection, kind: str, value: str) -> str:
        return hmac.new(self._key(conn), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    async def new_code(self, customer_id: int, identity_id: int) -> str:
        """A fresh code "12345-67890" for this identity's customer, valid `CODE_TTL`."""

        def write(conn: Connection) -> str:
            now = time.time()
            for _ in range(50):
                selector = f"{secrets.randbelow(100_000):05d}"
                sel_hash = self._digest(conn, "selector", selector)
                taken = conn.execute(
                    select(_codes.c.id).where(
                        _codes.c.selector_hash == sel_hash,
                        _codes.c.used_at.is_(None),
                        _codes.c.expires_at > now,
                    )
                ).first()
                if taken is None:
                    break
            else:  # pragma: no cover - 100k open codes at once
                raise RuntimeError("too many open linking codes")
            code = selector + f"{secrets.randbelow(100_000):05d}"
            conn.execute(
                insert(_codes),
                {
                    "selector_hash": sel_hash,
                    "code_hash": self._digest(conn, "code", code),
                    "customer_id": customer_id,
                    "identity_id": identity_id,
                    "created_at": now,
                    "expires_at": now + CODE_TTL,
                    "failures": 0,
                },
            )
            return f"{code[:5]}-{code[5:]}"

        result: str = await self._run(write)
        return result

    async def redeem(
        self, code: str, customer_id: int, identity_id: int, *, proof: str = "code"
    ) -> Redeemed:
        """Try a code (ten digits) sent by `identity_id`; on success the code's customer is
        merged into `customer_id` (the customer writing now keeps its line)."""

        def write(conn: Connection) -> Redeemed:
            now = time.time()
            throttle = conn.execute(
                select(
                    _throttle.c.failures, _throttle.c.window_start, _throttle.c.locked_until
                ).where(_throttle.c.identity_id == identity_id)
            ).first()
            if throttle is not None and (throttle[2] or 0) > now:
                return Redeemed("throttled")
            digits = re.sub(r"\D", "", code)
            sel_hash = self._digest(conn, "selector", digits[:5])
            code_hash = self._digest(conn, "code", digits)
            row = conn.execute(
                select(_codes.c.id, _codes.c.code_hash, _codes.c.identity_id, _codes.c.failures)
                .where(
                    _codes.c.selector_hash == sel_hash,
                    _codes.c.used_at.is_(None),
                    _codes.c.expires_at > now,
                )
                .order_by(_codes.c.id.desc())
                .limit(1)
            ).first()
            # Always compare, so a missing code costs what a wrong one does.
            stored = str(row[1]) if row is not None else "0" * 64
            if row is None or not hmac.compare_digest(stored, code_hash):
                if row is not None:
                    # Counted in the UPDATE, not from what was read: wrong verifiers from
                    # several processes at once are all counted.
                    failures = conn.execute(
                        update(_codes)
                        .where(_codes.c.id == row[0], _codes.c.used_at.is_(None))
                        .values(failures=_codes.c.failures + 1)
                        .returning(_codes.c.failures)
                    ).scalar()
                    if failures is not None and failures >= MAX_FAILURES:  # burned
                        conn.execute(
                            update(_codes)
                            .where(_codes.c.id == row[0], _codes.c.used_at.is_(None))
                            .values(used_at=now)
                        )
                self._fail(conn, identity_id, throttle, now)
                return Redeemed("invalid")
            # Single use on every process: the UPDATE re-checks `used_at IS NULL`, so of two
            # transactions that both read the code unused, the second (which waits for the
            # first's row lock on PostgreSQL) changes nothing and loses like a used code.
            won = conn.execute(
                update(_codes)
                .where(_codes.c.id == row[0], _codes.c.used_at.is_(None))
                .values(used_at=now, used_by=identity_id)
            )
            if not won.rowcount:
                self._fail(conn, identity_id, throttle, now)
                return Redeemed("invalid")
            source = conn.execute(
                select(_identities.c.customer_id, _identities.c.channel).where(
                    _identities.c.id == row[2]
                )
            ).one()
            if int(source[0]) == customer_id:
                return Redeemed("already", code_channel=str(source[1]))
            merged = merge(
                conn, self._store, customer_id, int(source[0]), proof=proof, actor=None, now=now
            )
            return Redeemed("linked", merged, str(source[1]))

        result: Redeemed = await self._run(write)
        return result

    def _fail(self, conn: Connection, identity_id: int, throttle: Any, now: float) -> None:
        if throttle is None:
            # Another process may count this identity's first failure at the same time: the
            # primary key keeps one row and the loser counts on it.
            made = conn.execute(
                _insert(conn, _throttle).on_conflict_do_nothing(index_elements=["identity_id"]),
                {"identity_id": identity_id, "failures": 1, "window_start": now},
            )
            if made.rowcount:
                return
            throttle = conn.execute(
                select(
                    _throttle.c.failures, _throttle.c.window_start, _throttle.c.locked_until
                ).where(_throttle.c.identity_id == identity_id)
            ).one()
        failures, start = int(throttle[0]), float(throttle[1])
        if now - start > FAILURE_WINDOW:
            failures, start = 0, now
        failures += 1
        conn.execute(
            update(_throttle)
            .where(_throttle.c.identity_id == identity_id)
            .values(
                failures=0 if failures >= MAX_FAILURES else failures,
                window_start=now if failures >= MAX_FAILURES else start,
                locked_until=now + COOL_DOWN if failures >= MAX_FAILURES else None,
            )
        )

    # -- phone proofs ----------------------------------------------------------------------

    async def prove_phone(self, identity_id: int, phone: str) -> Merged | None:
        """Record that `identity_id` proved `phone` (E.164) is its own; merge the customer of
        that number's SMS identity into this identity's customer, if there is one."""

        def write(conn: Connection) -> Merged | None:
            now = time.time()
            # The newest proof wins (numbers are recycled); one statement, so two proofs of
            # one number at once never collide on its unique key.
            upsert = _insert(conn, _proofs)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["phone"],
                    set_={
                        "identity_id": upsert.excluded.identity_id,
                        "created_at": upsert.excluded.created_at,
                    },
                ),
                {"phone": phone, "identity_id": identity_id, "created_at": now},
            )
            keep = conn.execute(
                select(_identities.c.customer_id).where(_identities.c.id == identity_id)
            ).scalar_one()
            sms = conn.execute(
                select(_identities.c.customer_id).where(
                    _identities.c.channel == SMS_CHANNEL, _identities.c.external_id == phone
                )
            ).first()
            if sms is None or int(sms[0]) == int(keep):
                return None
            # A number proves only itself: if its customer is also reachable elsewhere (say,
            # an earlier owner of a recycled number linked their own Telegram), the proof does
            # not bring those channels along; linking them takes a code from one of them.
            others = conn.execute(
                select(_identities.c.id)
                .where(_identities.c.customer_id == sms[0], _identities.c.channel != SMS_CHANNEL)
                .limit(1)
            ).first()
            if others is not None:
                return None
            return merge(
                conn,
                self._store,
                int(keep),
                int(sms[0]),
                proof="contact_share",
                actor=None,
                now=now,
            )

        result: Merged | None = await self._run(write)
        return result

    # -- agents and admins -----------------------------------------------------------------

    async def link(self, identity_a: int, identity_b: int, *, actor: str) -> Merged | None:
        """Link two identities (an agent or admin vouches); the customer of `identity_a`
        keeps its id. None when they already belong to one customer."""

        def write(conn: Connection) -> Merged | None:
            rows = dict(
                conn.execute(
                    select(_identities.c.id, _identities.c.customer_id).where(
                        _identities.c.id.in_([identity_a, identity_b])
                    )
                ).all()
            )
            if len(rows) != 2 and identity_a != identity_b:
                raise LookupError("unknown identity")
            keep, other = int(rows[identity_a]), int(rows[identity_b])
            if keep == other:
                return None
            return merge(
                conn, self._store, keep, other, proof="admin", actor=actor, now=time.time()
            )

        result: Merged | None = await self._run(write)
        return result

    async def unlink(self, identity_id: int, *, actor: str) -> Unlinked | None:
        """Give an identity its own customer again, moving back what it brought and what
        it wrote since; None when it is its customer's only identity."""

        def write(conn: Connection) -> Unlinked | None:
            return unlink(conn, self._store, identity_id, actor, time.time())

        result: Unlinked | None = await self._run(write)
        return result

    async def sweep(self, other: int, keep: int) -> Merged | None:
        """Move to `keep` what a turn of `other` wrote after `other` was merged into it (a
        turn that was already running when the merge happened); None when nothing was left."""

        def write(conn: Connection) -> Merged | None:
            for name in MOVED:
                table = metadata.tables[name]
                if conn.execute(
                    select(table.c.id).where(table.c.customer_id == other).limit(1)
                ).first():
                    return merge(
                        conn, self._store, keep, other, proof="sweep", actor=None, now=time.time()
                    )
            return None

        result: Merged | None = await self._run(write)
        return result

    # -- reading ---------------------------------------------------------------------------

    async def merge_log(self, customer_id: int) -> list[dict[str, Any]]:
        """Merge-log entries of this customer and of the customers merged into it (and so
        on), oldest first."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            ids, todo = {customer_id}, [customer_id]
            while todo:
                merged_in = conn.execute(
                    select(_log.c.other_customer_id).where(
                        _log.c.customer_id == todo.pop(), _log.c.kind == "merge"
                    )
                ).scalars()
                for other in merged_in:
                    if other not in ids:
                        ids.add(other)
                        todo.append(other)
            q = (
                select(_log)
                .where(_log.c.customer_id.in_(ids) | _log.c.other_customer_id.in_(ids))
                .order_by(_log.c.id)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        result: list[dict[str, Any]] = await self._runner.run(read)
        return result

    async def identities(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's identities (id, channel, external_id, route, last_seen_at)."""

        def read(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(
                    _identities.c.id,
                    _identities.c.channel,
                    _identities.c.external_id,
                    _identities.c.route,
                    _identities.c.last_seen_at,
                )
                .where(_identities.c.customer_id == customer_id)
                .order_by(_identities.c.id)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

        result: list[dict[str, Any]] = await self._runner.run(read)
        return result

    async def last_channel(self, customer_id: int) -> str | None:
        """The channel the customer last wrote from (its last identity's), if known."""

        def read(conn: Connection) -> str | None:
            return conn.execute(
                select(_identities.c.channel)
                .join(_customers, _customers.c.last_identity_id == _identities.c.id)
                .where(_customers.c.id == customer_id)
            ).scalar_one_or_none()

        result: str | None = await self._runner.run(read)
        return result
