"""Proactive messages and campaigns: Baton writes first.

`await engine.notify(customer_id, "Your parcel shipped", purpose="service")` sends on the
customer's preferred channel, else the last one used, else any reachable one; nothing goes to
an opted-out, blocked or consent-less identity, and every skip is recorded with its reason.
Campaigns send one message to a segment, throttled per channel, resumable after a kill.
The console API (`POST /api/customers/{id}/messages`, `/api/campaigns`) and the command line
(`baton send`, `baton campaign`) use the same feature. See docs/guides/proactive.md.
"""

from __future__ import annotations

from bot.proactive.errors import BadMessage, ProactiveError, UnknownCustomer
from bot.proactive.service import MAX_CHOICES, MAX_TEXT, Proactive, ProactiveConfig, make_prompt
from bot.proactive.throttle import Limiter, Rate
from storage.proactive import PREFERRED_KEY, REASONS, ProactiveRecord

__all__ = [
    "MAX_CHOICES",
    "MAX_TEXT",
    "PREFERRED_KEY",
    "REASONS",
    "BadMessage",
    "Limiter",
    "Proactive",
    "ProactiveConfig",
    "ProactiveError",
    "ProactiveRecord",
    "Rate",
    "UnknownCustomer",
    "make_prompt",
]
