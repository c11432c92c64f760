"""Live handoff: bot -> waiting -> with an agent -> resolved -> bot, as one feature.

- `service`: the `Handoffs` feature (agent actions, the queue ticker, what customers are told);
- `route`: its stage of a turn (turns that involve people commit guarded by the status);
- `hours`: business hours and deadlines in open time;
- `estimates`: expected waits and when a waiting customer hears about them again;
- `summary`: what the agent reads first.
"""

from __future__ import annotations

from bot.handoff.estimates import describe_wait, estimate_per_place, should_tell
from bot.handoff.hours import BusinessHours
from bot.handoff.route import HandoffRoute, involves_people
from bot.handoff.service import HandoffConfig, Handoffs
from bot.handoff.summary import readable, summarize

__all__ = [
    "BusinessHours",
    "HandoffConfig",
    "HandoffRoute",
    "Handoffs",
    "describe_wait",
    "estimate_per_place",
    "involves_people",
    "readable",
    "should_tell",
    "summarize",
]
