"""The WhatsApp channel, through Twilio's WhatsApp senders on the official twilio SDK.

- `parse.py`: inbound WhatsApp webhooks and status callbacks -> `Inbound`, `DeliveryUpdate`.
- `render.py`: prompts -> messages with quick-reply buttons, list pickers or numbered options.
- `adapter.py`: `WhatsAppAdapter`: the signed webhooks, sending, the customer-service window
  and its templates.
- `settings.py`: `BATON_WHATSAPP_FROM`, `BATON_WHATSAPP_TEMPLATES`, `BATON_WHATSAPP_WINDOW_HOURS`.
- `emulator.py`, `customer.py`: the Twilio emulator's WhatsApp side and the customer's view of
  it, for the sandbox and the test kit.
- `channel.py`: the registry entry.
"""

from __future__ import annotations

from adapters.whatsapp.adapter import (
    MESSAGE_PATH,
    OUTSIDE_WINDOW,
    STATUS_PATH,
    WINDOW,
    WhatsAppAdapter,
)
from adapters.whatsapp.parse import PREFIX, address_of, parse_message, parse_status_update
from adapters.whatsapp.render import interactive_kind, render_prompt
from adapters.whatsapp.settings import WhatsAppSettings

__all__ = [
    "MESSAGE_PATH",
    "OUTSIDE_WINDOW",
    "PREFIX",
    "STATUS_PATH",
    "WINDOW",
    "WhatsAppAdapter",
    "WhatsAppSettings",
    "address_of",
    "interactive_kind",
    "parse_message",
    "parse_status_update",
    "render_prompt",
]
