"""When people answer: business hours in a time zone, minus holidays, and deadlines and
durations counted in open time."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessHours"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LOOKAHEAD_DAYS = 400


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When people answer: a week schedule in a time zone, minus holidays.

    Example:
        >>> hours = BusinessHours.parse("mon-fri 09:00-17:30; sat 10:00-16:00",
        ...                             "Europe/Amsterdam", "2026-12-25, 2026-12-26")
        >>> hours.is_open(time.time())
    """

    zone: ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...]
    """For Monday to Sunday: open intervals in minutes after midnight, local time."""
    holidays: frozenset[dt.date]
    always: bool
    """Open around the clock, every day."""

    @classmethod
    def parse(cls, spec: str = "", timezone: str = "UTC", holidays: str = "") -> BusinessHours:
        """Read a schedule like "mon-fri 09:00-17:30; sat 10:00-12:00,13:00-16:00".

        Empty (or "24/7") means always open. Days are mon..sun, as a range ("mon-fri") or a
        list ("mon,wed"). Holidays are ISO dates separated by commas or spaces.

        Raises:
            ValueError: the schedule, time zone or a holiday cannot be read.
        """
        zone = _zone(timezone)
        days = frozenset(_holidays(holidays))
        text = spec.strip().lower()
        if not text or text in ("24/7", "always"):
            week: tuple[tuple[tuple[int, int], ...], ...] = (((0, 1440),),) * 7
            return cls(zone, week, days, always=not days)
        table: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for entry in (e.strip() for e in text.split(";")):
            if not entry:
                continue
            parts = entry.split(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{entry!r}: write days then hours, like 'mon-fri 09:00-17:00'")
            for day in _day_set(parts[0]):
                for span in parts[1].replace(" ", "").split(","):
                    table[day].append(_span(span))
        if not any(table):
            raise ValueError("the schedule has no open hours")
        return cls(zone, tuple(tuple(sorted(d)) for d in table), days, always=False)

    def _day(self, day: dt.date) -> list[tuple[float, float]]:
        if day in self.holidays:
            return []
        out = []
        for start, end in self.week[day.weekday()]:
            out.append((self._at(day, start), self._at(day, end)))
        return out

    def _at(self, day: dt.date, minutes: int) -> float:
        if minutes >= 1440:
            day, minutes = day + dt.timedelta(days=1), 0
        local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.timestamp()

    def intervals(self, start: float) -> Iterator[tuple[float, float]]:
        """Open intervals (Unix seconds) from `start` on, the first clipped to `start`."""
        first = dt.datetime.fromtimestamp(start, self.zone).date()
        for offset in range(_LOOKAHEAD_DAYS):
            for a, b in self._day(first + dt.timedelta(days=offset)):
                if b > start:
                    yield max(a, start), b

    def is_open(self, at: float) -> bool:
        """Whether people answer at `at`."""
        return self.always or self.next_open(at) <= at

    def next_open(self, at: float) -> float:
        """`at` when open, else when it opens next."""
        if self.always:
            return at
        return next(iter(self.intervals(at)), (at, at))[0]

    def add(self, start: float, seconds: float) -> float:
        """The moment `seconds` of open time after `start` (a deadline in business hours)."""
        if self.always:
            return start + seconds
        remaining = seconds
        for a, b in self.intervals(start):
            if b - a >= remaining:
                return a + remaining
            remaining -= b - a
        return start + seconds

    def between(self, start: float, end: float) -> float:
        """Seconds of open time between `start` and `end`."""
        if self.always:
            return max(0.0, end - start)
        total = 0.0
        for a, b in self.intervals(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total

    def describe(self, at: float, now: float) -> str:
        """`at` as a customer reads it: "today at 09:00", "Monday 09:00 (Europe/Amsterdam)"."""
        local = dt.datetime.fromtimestamp(at, self.zone)
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        clock = local.strftime("%H:%M")
        if local.date() == today:
            when = f"today at {clock}"
        elif local.date() == today + dt.timedelta(days=1):
            when = f"tomorrow at {clock}"
        else:
            when = f"{_DAY_NAMES[local.weekday()]} {local.day} "
            when += f"{local.strftime('%B')} at {clock}"
        name = self.zone.key
        return f"{when} ({name} time)" if name != "UTC" else f"{when} UTC"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use a name like Europe/Amsterdam") from None


def _holidays(text: str) -> list[dt.date]:
    out = []
    for item in re.split(r"[\s,;]+", text.strip()):
        if item:
            try:
                out.append(dt.date.fromisoformat(item))
            except ValueError:
                raise ValueError(f"holiday {item!r} is not a date like 2026-12-25") from None
    return out


def _day_set(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        if part in ("daily", "every", "all"):
            days.extend(range(7))
            continue
        first, _, last = part.partition("-")
        if first[:3] not in _DAYS or (last and last[:3] not in _DAYS):
            raise ValueError(f"{part!r}: days are mon, tue, wed, thu, fri, sat, sun")
        a = _DAYS.index(first[:3])
        b = _DAYS.index(last[:3]) if last else a
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return days


def _span(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", text)
    if m is None:
        raise ValueError(f"{text!r}: hours look like 09:00-17:30")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= end or end > 1440:
        raise ValueError(f"{text!r}: the end must come after the start, at most 24:00")
    return start, end
