"""The sandbox at /sandbox: play the customer on Telegram, SMS and Slack in one browser page.

`baton run` serves it when no platform credentials are set, and on demand with
BATON_SANDBOX=true (BATON_SANDBOX=false turns it off). Nothing on Baton's side is faked: the three
platform emulators (`adapters.emulators`) run in the same process on loopback ports, and the real
Telegram, Twilio and Slack adapters point at them with generated, well-formed credentials. A
message typed in a pane is POSTed by the emulator's customer helper to Baton's own webhook URL
over loopback HTTP, signed as the platform signs it (Telegram's secret header, Twilio's
X-Twilio-Signature over the public URL, Slack's v0 signature); the adapter verifies it, the engine
runs the flow, and the reply leaves through the official SDK to the emulator, which records it.
The pane long-polls those records (`GET /sandbox/api/{channel}/messages?after=N`).

Customers: the page gives each browser a random session cookie (`baton_sandbox`, HttpOnly,
SameSite=Strict), and the customer's identity on each channel is derived from it. So one browser
is one customer per pane (still the same after a restart, as the cookie stays), and two browsers
never share a conversation. The identities cannot belong to real people:

- Telegram: a user id from 4,000,000,000,000,000 up (real ids are far smaller);
- SMS: a North American number of the form +1 NXX 555-01XX, reserved for fiction;
- Slack: a user "USBX..." in the workspace "TSANDBOX1".

A channel that has real credentials stays real: the sandbox covers only the others, and its pane
says so.

Every channel here comes from the channel registry (`adapters.registry`): its emulator and the
emulator's customer view (`adapters.emulators.customer`), which reads what each sent message
shows (text, buttons, media) and presses buttons through the real signed webhook, as the test
kit does. The emulators are not aiohttp sub-applications of Baton's app: the adapters call their
platform while Baton starts (getMe, auth.test), before Baton's socket accepts connections. So each
emulator listens on a loopback socket bound when the sandbox is built, and a cleanup context that
runs before Baton's own starts and stops them.
"""

from __future__ import annotations

from bot.sandbox.customer import Customer
from bot.sandbox.server import (
    BOT_NUMBER,
    CHANNELS,
    SANDBOX,
    Sandbox,
    banner,
    build_app,
    local_url,
)

__all__ = [
    "BOT_NUMBER",
    "CHANNELS",
    "SANDBOX",
    "Customer",
    "Sandbox",
    "banner",
    "build_app",
    "local_url",
]
