"""Consent per purpose: the newest answer is in force, no answer is a no, `service` needs none,
and a merge carries the customer's answers; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from storage import NewInbound, open_store
from storage.consents import SERVICE, Consents, check_purpose


def test_purpose_names_are_checked() -> None:
    assert check_purpose("marketing") == "marketing"
    for bad in ("", "Marketing", "1st", "a b", "x" * 33, "<b>"):
        with pytest.raises(ValueError, match="not a valid name"):
            check_purpose(bad)


async def test_newest_answer_is_in_force(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        await store.check_schema()
        (row,) = await store.accept([NewInbound("web", "m1", "c1", {"text": "hi"})])
        assert row is not None
        consents = Consents(store)
        customer = row.customer_id
        assert await consents.allows(customer, SERVICE)
        assert not await consents.allows(customer, "marketing")  # never asked: no
        shown = "May we send you offers? We send at most one a month."
        await consents.record(
            customer, "marketing", granted=True, source="customer", text=shown, channel="web"
        )
        assert await consents.allows(customer, "marketing")
        assert not await consents.allows(customer, "surveys")
        await consents.record(
            customer, "marketing", granted=False, source="console", actor="ann@example.com"
        )
        assert not await consents.allows(customer, "marketing")
        in_force = await consents.in_force(customer)
        history = await consents.history(customer)
        with pytest.raises(ValueError, match="needs no consent"):
            await consents.record(customer, SERVICE, granted=True, source="api")
        with pytest.raises(ValueError, match="source"):
            await consents.record(customer, "marketing", granted=True, source="guess")
    finally:
        await store.close()
    assert set(in_force) == {"marketing"}
    assert in_force["marketing"].granted is False
    assert in_force["marketing"].actor == "ann@example.com"
    assert [(c.granted, c.text, c.channel) for c in history] == [
        (True, shown, "web"),
        (False, "", None),
    ]
