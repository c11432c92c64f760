"""Business hours, wait estimates and when a waiting customer hears from the queue again."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.handoff import BusinessHours, describe_wait, estimate_per_place, should_tell

AMS = ZoneInfo("Europe/Amsterdam")
HOURS = BusinessHours.parse(
    "mon-fri 09:00-17:30; sat 10:00-16:00", "Europe/Amsterdam", "2026-12-25"
)


def at(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=AMS).timestamp()


def test_open_and_closed() -> None:
    assert HOURS.is_open(at(2026, 1, 5, 9, 0))  # Monday
    assert not HOURS.is_open(at(2026, 1, 5, 8, 59))
    assert not HOURS.is_open(at(2026, 1, 4, 12, 0))  # Sunday
    assert HOURS.is_open(at(2026, 1, 3, 12, 0))  # Saturday
    assert not HOURS.is_open(at(2026, 12, 25, 12, 0))  # a Friday, but a holiday


def test_next_opening_and_how_a_customer_reads_it() -> None:
    sunday_noon = at(2026, 1, 4, 12, 0)
    opens = HOURS.next_open(sunday_noon)
    assert opens == at(2026, 1, 5, 9, 0)
    assert HOURS.describe(opens, sunday_noon) == "tomorrow at 09:00 (Europe/Amsterdam time)"
    saturday_evening = at(2026, 1, 3, 18, 0)
    assert HOURS.describe(HOURS.next_open(saturday_evening), saturday_evening) == (
        "Monday 5 January at 09:00 (Europe/Amsterdam time)"
    )


def test_a_deadline_counts_only_business_time() -> None:
    friday_late = at(2026, 1, 9, 17, 15)
    assert HOURS.add(friday_late, 30 * 60) == at(2026, 1, 10, 10, 15)  # Saturday 10:15
    assert HOURS.between(friday_late, at(2026, 1, 10, 10, 15)) == 30 * 60


def test_daylight_saving_changes_keep_local_hours() -> None:
    # Sunday 29 March 2026 the clocks go forward in Amsterdam; Monday still opens at 09:00.
    assert HOURS.next_open(at(2026, 3, 29, 12, 0)) == at(2026, 3, 30, 9, 0)


def test_empty_means_always_open() -> None:
    hours = BusinessHours.parse("")
    assert hours.always
    assert hours.add(1000.0, 60.0) == 1060.0


@pytest.mark.parametrize(
    ("spec", "zone", "holidays"),
    [
        ("mon-fry 09:00-17:00", "UTC", ""),
        ("mon-fri 9-17", "UTC", ""),
        ("mon-fri 17:00-09:00", "UTC", ""),
        ("mon-fri", "UTC", ""),
        ("", "Mars/Olympus", ""),
        ("", "UTC", "25-12-2026"),
    ],
)
def test_mistakes_are_explained(spec: str, zone: str, holidays: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        BusinessHours.parse(spec, zone, holidays)


def test_the_wait_per_place_follows_recent_waits() -> None:
    always = BusinessHours.parse("")
    assert estimate_per_place([], always, 300.0) == 300.0
    # Waits of 10 minutes at place 2 (5 per place), then 2 minutes at place 1.
    claims = [(0.0, 600.0, 2), (1000.0, 1120.0, 1)]
    assert estimate_per_place(claims, always, 300.0) == pytest.approx(0.3 * 120 + 0.7 * 300)


def test_waits_are_said_as_people_say_them() -> None:
    assert describe_wait(20) == "less than a minute"
    assert describe_wait(60) == "about 1 minute"
    assert describe_wait(14 * 60) == "about 14 minutes"
    assert describe_wait(2 * 3600) == "about 2 hours"
    assert describe_wait(5400) == "about 1.5 hours"


def test_queue_updates_are_meaningful_and_rate_limited() -> None:
    every = 300.0
    told = (5, 1500.0, 0.0)
    assert not should_tell(told, 4, 1200.0, now=1000.0, every=every)  # one place: no
    assert should_tell(told, 3, 900.0, now=1000.0, every=every)  # two places: yes
    assert should_tell(told, 1, 300.0, now=1000.0, every=every)  # next: yes
    assert not should_tell(told, 1, 300.0, now=100.0, every=every)  # but not twice in 5 min
    assert should_tell((1, 300.0, 0.0), 1, 1500.0, now=1000.0, every=every)  # much longer
    assert should_tell((None, None, None), 3, 900.0, now=0.0, every=every)
