"""The registry of personal data covers every table: a table added without a declaration
(how erasure treats it, whether the export shows it) fails here, by name."""

from __future__ import annotations

import pytest

from storage.personal_data import NOT_CUSTOMER_DATA, REGISTRY, PersonalTable, declare
from storage.tables import metadata

PERSONAL_COLUMNS = {
    "customer_id",
    "text",
    "payload",
    "display_name",
    "phone",
    "external_id",
    "memory",
    "email",
    "first_name",
    "last_name",
    "comment",
    "path",
    "language",
}
"""Columns that hold a customer's data wherever they appear."""


def test_every_table_is_declared_one_way_or_the_other() -> None:
    declared = {e.table for e in REGISTRY}
    undeclared = sorted(set(metadata.tables) - declared - set(NOT_CUSTOMER_DATA))
    assert undeclared == [], (
        f"tables {undeclared} are not in storage.personal_data: declare them with "
        "declare(PersonalTable(...)) (erased and exported) or in NOT_CUSTOMER_DATA (with why)"
    )
    assert declared & set(NOT_CUSTOMER_DATA) == set()


def test_a_table_with_a_customer_id_is_erased_and_exported() -> None:
    missing = sorted(
        name
        for name, table in metadata.tables.items()
        if "customer_id" in table.c and name not in {e.table for e in REGISTRY}
    )
    assert missing == []


def test_customer_data_is_not_declared_as_nobody_s() -> None:
    suspicious = {
        name: sorted(PERSONAL_COLUMNS & set(metadata.tables[name].c.keys()))
        for name in NOT_CUSTOMER_DATA
        if name in metadata.tables
    }
    # Agents have emails of their own; canned replies are texts for everyone.
    allowed = {"agents": ["email"], "canned_replies": ["text"]}
    assert {k: v for k, v in suspicious.items() if v and allowed.get(k) != v} == {}


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.table)
def test_each_declaration_names_real_columns(entry: PersonalTable) -> None:
    table = metadata.tables[entry.table]
    for column in entry.columns:
        assert column in table.c
    if entry.via is not None:
        column, other, other_column = entry.via
        assert column in table.c
        assert other_column in metadata.tables[other].c
    for column, value in entry.blank:
        assert column in table.c
        if value is None:
            assert table.c[column].nullable, f"{entry.table}.{column} cannot be blanked to NULL"
    for column in entry.hidden:
        assert column in table.c
    assert entry.erase in {"delete", "blank", "keep"}


def test_rows_are_deleted_before_the_rows_they_point_at() -> None:
    order = [e.table for e in REGISTRY if e.erase == "delete"]
    for at, name in enumerate(order):
        for fk in metadata.tables[name].foreign_keys:
            target = fk.column.table.name
            if target in order:
                assert order.index(target) > at, f"{name} must be erased before {target}"


def test_a_feature_declares_its_table_once() -> None:
    with pytest.raises(ValueError, match="already declared"):
        declare(PersonalTable("messages"))
