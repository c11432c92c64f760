"""The built-in "link my channels" flow: gives the customer a one-time linking code.

The engine answers the exact words "link" and "link my channels" (and the button value
"link_channels") itself; this flow lets a bot offer linking from its own menus and
sentences ("can I link my telegram?"). Sending the code from the other channel links the two
(see `bot.linking`). The code comes from the engine through `LINK_CODES`, set for the turn
being handled; the flow journals the message, so a replay never makes a second code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from dialogs import Context, Keyword, flow

__all__ = ["LINK_CODES", "link_channels"]

LINK_CODES: ContextVar[Callable[[], Awaitable[str]] | None] = ContextVar(
    "baton_link_codes", default=None
)
"""Makes a linking code for the customer and identity of the turn being handled, and
returns the message that shows it (set by `bot.linking.Linker` for each turn)."""

_UNAVAILABLE = "Linking channels isn't available here."


async def _new_code() -> str:
    issue = LINK_CODES.get()
    return _UNAVAILABLE if issue is None else await issue()


@flow(
    triggers=[
        Keyword(
            "link my channels",
            "link channels",
            "link my telegram",
            "link my sms",
            "link my slack",
            "link my phone",
            "connect my channels",
        )
    ],
    description="Link your chats on Telegram, SMS and Slack into one ('link')",
)
async def link_channels(ctx: Context) -> None:
    """Give a one-time code to send from the other channel."""
    await ctx.say(await ctx.step("linking code", _new_code))
