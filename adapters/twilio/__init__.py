"""The Twilio SMS/MMS channel, on the official twilio SDK.

- `parse.py`: inbound SMS and status callbacks -> `Inbound`, `DeliveryUpdate` (pure).
- `render.py`: prompts -> message bodies with numbered choices and parts (pure).
- `adapter.py`: `TwilioAdapter`: lifecycle, the signed webhook routes, sending.
"""

from __future__ import annotations

from adapters.twilio.adapter import SMS_PATH, STATUS_PATH, TwilioAdapter, parse_retry_after
from adapters.twilio.parse import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    control_word,
    normalise_number,
    parse_sms,
    parse_status,
)
from adapters.twilio.render import render_prompt

__all__ = [
    "OPT_IN_WORDS",
    "OPT_OUT_WORDS",
    "SMS_PATH",
    "STATUS_PATH",
    "TwilioAdapter",
    "control_word",
    "normalise_number",
    "parse_retry_after",
    "parse_sms",
    "parse_status",
    "render_prompt",
]
