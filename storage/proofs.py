"""Phone proofs at the moment a number first texts in: the customer it joins.

A Telegram contact share of the sender's own contact proves an E.164 number
(`Linking.prove_phone` records it). When that number's SMS identity is seen for the first
time, the store's accept path asks `proven_owner` inside its transaction, and the identity
joins the customer that proved it instead of a new one.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, insert, select

from storage.tables import metadata

__all__ = ["PROOF_FRESH", "SMS_CHANNEL", "proven_owner"]

SMS_CHANNEL = "twilio"
PROOF_FRESH = 30 * 86400.0
"""A number texting in for the first time joins the customer that proved it only if the proof
is younger than this (numbers are recycled: an old proof may name the previous owner)."""

_identities: Table = metadata.tables["identities"]
_proofs: Table = metadata.tables["phone_proofs"]
_log: Table = metadata.tables["merge_log"]


def proven_owner(conn: Connection, channel: str, external_id: str, now: float) -> int | None:
    """The customer a channel identity seen for the first time joins (recorded in the merge
    log), or None for a new customer. Only SMS numbers with a fresh proof join one."""
    if channel != SMS_CHANNEL:
        return None
    row = conn.execute(
        select(_identities.c.customer_id)
        .join(_proofs, _proofs.c.identity_id == _identities.c.id)
        .where(_proofs.c.phone == external_id, _proofs.c.created_at > now - PROOF_FRESH)
    ).first()
    if row is None:
        return None
    customer_id = int(row[0])
    conn.execute(
        insert(_log),
        {
            "kind": "join",
            "customer_id": customer_id,
            "other_customer_id": customer_id,
            "proof": "phone_proof",
            "actor": None,
            "moved": {"channel": channel, "external_id": external_id},
            "created_at": now,
        },
    )
    return customer_id
