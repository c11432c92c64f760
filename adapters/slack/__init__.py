"""The Slack channel: the Events API and interactivity through slack-bolt, replies through
slack-sdk.

- `parse.py`: event and block_actions payloads -> `Inbound` (pure).
- `render.py`: prompts -> Block Kit messages (pure).
- `adapter.py`: `SlackAdapter`: lifecycle, the signed webhook routes, sending.
"""

from __future__ import annotations

from adapters.slack.adapter import EVENTS_PATH, INTERACTIVE_PATH, SlackAdapter
from adapters.slack.parse import action_inbound, event_inbound
from adapters.slack.render import escape, render

__all__ = [
    "EVENTS_PATH",
    "INTERACTIVE_PATH",
    "SlackAdapter",
    "action_inbound",
    "escape",
    "event_inbound",
    "render",
]
