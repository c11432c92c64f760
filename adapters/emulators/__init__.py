"""Emulators of the Telegram, Twilio and Slack HTTP APIs, for tests, benchmarks and the sandbox,
and of an OpenAI-compatible chat completions API (`OpenAIEmulator`) for the optional LLM.

Each emulator is an aiohttp application (`.app`) that answers like the platform, so the
official SDK works unchanged when its base URL points there. Each records every call
(`calls`, `sent_to`, `await next_call(...)`), injects faults (`fail_next`, `hang_next`) and
plays the customer: it POSTs real-format, correctly signed webhooks to the app under test.
Each platform's `CustomerView` (`TelegramView`, `TwilioView`, `SlackView`) is the customer's
side: what a sent message shows them (text, buttons, options) and pressing a button or answering
an option through the signed webhook; the sandbox and the test kit both use it.

Example:
    >>> emu = TelegramEmulator("123456:TEST")
    >>> async with emu.run() as url:
    ...     bot = Bot("123456:TEST", session=AiohttpSession(
    ...         api=TelegramAPIServer.from_base(url)))
    ...     await bot.send_message(42, "Hello")
    ...     assert (await emu.next_call("sendMessage")).params["text"] == "Hello"

Run one standalone with `python -m adapters.emulators telegram|twilio|slack --port N`.
"""

from __future__ import annotations

from adapters.emulators._recorder import Call, Emulator, WebhookResult, post_webhook
from adapters.emulators.customer import Button, CustomerView, Shown, numbered_options
from adapters.emulators.openai import OpenAIEmulator
from adapters.emulators.slack import (
    SlackEmulator,
    block_actions_payload,
    dm_channel,
    event_payload,
    signed_headers,
)
from adapters.emulators.slack_customer import SlackView
from adapters.emulators.telegram import (
    TelegramEmulator,
    callback_payload,
    update_payload,
    user_payload,
)
from adapters.emulators.telegram_customer import TelegramView
from adapters.emulators.twilio import StatusPost, TwilioEmulator, new_sid, sms_params
from adapters.emulators.twilio_customer import TwilioView

__all__ = [
    "Button",
    "Call",
    "CustomerView",
    "Emulator",
    "OpenAIEmulator",
    "Shown",
    "SlackEmulator",
    "SlackView",
    "StatusPost",
    "TelegramEmulator",
    "TelegramView",
    "TwilioEmulator",
    "TwilioView",
    "WebhookResult",
    "block_actions_payload",
    "callback_payload",
    "dm_channel",
    "event_payload",
    "new_sid",
    "numbered_options",
    "post_webhook",
    "signed_headers",
    "sms_params",
    "update_payload",
    "user_payload",
]
