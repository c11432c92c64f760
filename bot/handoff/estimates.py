"""How long a waiting customer is expected to wait, and when they hear about it again."""

from __future__ import annotations

from collections.abc import Sequence

from bot.handoff.hours import BusinessHours

__all__ = ["describe_wait", "estimate_per_place", "should_tell"]

_EMA_ALPHA = 0.3


def estimate_per_place(
    claims: Sequence[tuple[float, float, int]], hours: BusinessHours, default: float
) -> float:
    """Seconds of waiting per place in the queue: an exponential moving average over recent
    claims (waiting since, claimed at, place on entry), oldest first, in business hours."""
    ema: float | None = None
    for since, claimed, place in claims:
        wait = hours.between(since, claimed) / max(1, place)
        ema = wait if ema is None else _EMA_ALPHA * wait + (1 - _EMA_ALPHA) * ema
    return default if ema is None else max(ema, 1.0)


def describe_wait(seconds: float) -> str:
    """A wait as people say it: "less than a minute", "about 5 minutes", "about 2 hours"."""
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(seconds / 3600 * 2) / 2
    shown = f"{hours:g}"
    return f"about {shown} hour{'s' if hours != 1 else ''}"


def should_tell(
    told: tuple[int | None, float | None, float | None],
    position: int,
    wait: float,
    *,
    now: float,
    every: float,
) -> bool:
    """Whether a waiting customer hears their place again.

    `told` is (place, wait, when) of what they were told last. Only a meaningful change is
    told (they are next now, moved by at least two places and a quarter, or the wait changed
    by half and five minutes), and never twice within `every` seconds.
    """
    told_position, told_wait, told_at = told
    if told_at is not None and now - told_at < every:
        return False
    if told_position is None or told_wait is None:
        return True
    if position == 1 and told_position > 1:
        return True
    if abs(position - told_position) >= max(2, told_position / 4):
        return True
    return abs(wait - told_wait) >= max(300.0, told_wait / 2)
