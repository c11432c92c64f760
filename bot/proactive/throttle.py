"""Per-channel throttles for proactive and campaign messages: the platforms' limits.

A `Limiter` hands out send slots: at most `overall` per second across the channel and
`per_key` per second per chat, number or channel, spaced evenly (never a burst the platform
would answer with a 429). A 429 pauses the whole channel for its Retry-After: every slot
handed out before the pause is taken again after it, so the send rate drops at once.

| channel  | overall (setting)                   | per key (setting)                        |
| -------- | ----------------------------------- | ---------------------------------------- |
| telegram | 30/s (`BATON_TELEGRAM_RATE`)        | 1/s per chat (`BATON_TELEGRAM_CHAT_RATE`) |
| twilio   | 1/s per sending number (`BATON_TWILIO_RATE`) | -                               |
| slack    | -                                   | 1/s per channel (`BATON_SLACK_CHANNEL_RATE`) |
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["Limiter", "Rate"]

_PRUNE_EVERY = 2000


@dataclass(frozen=True, slots=True)
class Rate:
    """A channel's limits, in messages per second (None: no such limit)."""

    overall: float | None = None
    per_key: float | None = None


class Limiter:
    """Send slots of one channel (see the module)."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._next = 0.0
        self._keys: dict[str, float] = {}
        self._hold_until = 0.0
        self._pauses = 0
        self._given = 0

    async def acquire(self, key: str) -> None:
        """Wait for this key's next slot."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            at = max(now, self._next, self._hold_until)
            if self.rate.per_key:
                at = max(at, self._keys.get(key, 0.0))
                self._keys[key] = at + 1.0 / self.rate.per_key
            if self.rate.overall:
                self._next = at + 1.0 / self.rate.overall
            pauses = self._pauses
            if at > now:
                await asyncio.sleep(at - now)
            if pauses == self._pauses:
                break  # no 429 while we waited: the slot stands
        self._given += 1
        if self._given % _PRUNE_EVERY == 0:
            self._prune(loop.time())

    def pause(self, seconds: float) -> None:
        """The platform asked to wait: no slot before `seconds` from now."""
        now = asyncio.get_running_loop().time()
        self._hold_until = max(self._hold_until, now + seconds)
        self._next = max(self._next, self._hold_until)
        self._pauses += 1

    def _prune(self, now: float) -> None:
        self._keys = {k: t for k, t in self._keys.items() if t > now}
