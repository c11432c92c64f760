"""The built-in "link my channels" flow: gives the customer a one-time linking code.

The engine answers the exact words "link" and "link my channels" (and the button value
"link_channels") itself; this flow lets a bot offer linking from its own menus and
sentences ("can I link my telegram?"). Sending the code from the other channel links the two
(see `bot.linking`). The flow says a placeholder marked `LINK_CODE`; the linking feature
replaces it with a fresh code in the turn that says it (a replay says nothing again, so it
never makes a second code). Where linking is not installed the placeholder's own text is
sent.
"""

from __future__ import annotations

from dialogs import Context, Keyword, flow
from dialogs.prompts import Prompt

__all__ = ["LINK_CODE", "link_channels"]

LINK_CODE = "link_code"
"""The `Prompt.meta` key of a message the linking feature replaces with a linking code."""

_CODE_PROMPT = Prompt("Linking channels isn't available here.", meta={LINK_CODE: True})


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
    title="linking your channels",
)
async def link_channels(ctx: Context) -> None:
    """Give a one-time code to send from the other channel."""
    await ctx.say(_CODE_PROMPT)
