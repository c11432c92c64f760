"""The Telegram channel: aiogram 3, webhook or long polling in, Bot API calls out.

- `parse.py`: updates -> `Inbound` (pure).
- `render.py`: prompts -> Bot API calls (pure).
- `session.py`: `BatonSession`, the tuned HTTP session aiogram sends through.
- `adapter.py`: `TelegramAdapter`: lifecycle, the webhook route, polling, sending.

The channel registers itself in `adapters.registry` (see `channel.py`).
"""

from __future__ import annotations

from adapters.telegram.adapter import PATH, TelegramAdapter
from adapters.telegram.parse import inbound_from_update, normalise_phone, plain_text_inbound
from adapters.telegram.render import render_prompt
from adapters.telegram.session import BatonSession

__all__ = [
    "PATH",
    "BatonSession",
    "TelegramAdapter",
    "inbound_from_update",
    "normalise_phone",
    "plain_text_inbound",
    "render_prompt",
]
