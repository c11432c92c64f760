from __future__ import annotations

import datetime as dt

import pytest

from dialogs import Invalid
from dialogs.interruptions import Interruptions
from dialogs.validators import date, email, integer, number, phone, yes_no


@pytest.mark.parametrize(("text", "value"), [("12", 12), ("3,5", 3.5), (" 2.0 ", 2.0)])
def test_number(text: str, value: float) -> None:
    assert number(text) == value


@pytest.mark.parametrize("text", ["twelve", "", "nan", "inf", "1e999"])
def test_number_rejects(text: str) -> None:
    with pytest.raises(Invalid, match="number"):
        number(text)


def test_integer() -> None:
    assert integer(" 42 ") == 42
    with pytest.raises(Invalid):
        integer("4.2")


def test_email() -> None:
    assert email(" Ada@Example.COM ") == "Ada@example.com"
    for bad in ["ada", "ada@", "@x.com", "a b@x.com", "<a>@x.com", "a@x"]:
        with pytest.raises(Invalid):
            email(bad)


def test_phone_gives_e164() -> None:
    assert phone("+31 6 12345678") == "+31612345678"
    assert phone("06 12345678", region="NL") == "+31612345678"
    with pytest.raises(Invalid, match="country code"):
        phone("0612345678")
    with pytest.raises(Invalid):
        phone("+31 6 1")


def test_date() -> None:
    assert date("2026-12-24") == dt.date(2026, 12, 24)
    assert date("24-12-2026") == dt.date(2026, 12, 24)
    assert date("24 December 2026") == dt.date(2026, 12, 24)
    with pytest.raises(Invalid):
        date("next tuesday")


def test_yes_no_in_english_and_dutch() -> None:
    assert [yes_no(t) for t in ["Yes", "ja", "ok.", "No", "nee"]] == [
        True,
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(Invalid):
        yes_no("perhaps")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("help", "help"),
        ("Help!", "help"),
        ("cancel", "cancel"),
        ("annuleren", "cancel"),
        ("agent", "human"),
        ("human", "human"),
        ("Talk to a human", "human"),
        ("I want to speak to a person please", "human"),
        ("medewerker", "human"),
        ("mens", "human"),
        ("Ik wil een medewerker spreken", "human"),
        ("met een mens", "human"),
        ("I need help with my order", None),
        ("my agent number is 5", None),
        ("Ada", None),
    ],
)
def test_interruptions_are_whole_messages(text: str, kind: str | None) -> None:
    assert Interruptions().classify(text) == kind
