"""The sandbox's "Be one customer on all three": the real linking, done for the customer.

Each pane is a different customer to Baton until their channels are linked. The page's button
does what a customer would do by hand, through the same signed webhooks as typed messages: on
the first pane it says "link" and reads the one-time code in the bot's reply, then sends that
code from the next pane and waits for "Linked!"; again for each other pane (a code works
once). Every step shows in the panes, as if typed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from adapters.emulators import WebhookResult
from adapters.registry import channel_name
from bot.linking import texts
from bot.sandbox.pane import Pane

__all__ = ["LinkOutcome", "link_panes", "one_customer"]

_CODE = re.compile(r"linking code is (\d[\d -]*\d)")
_WAIT = 15.0  # seconds for each reply of the bot

Say = Callable[[str, str], Awaitable[WebhookResult]]
"""Shows `text` as typed in the pane of a channel and POSTs it to Baton as its webhook."""


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What linking the panes did, as the page shows it."""

    ok: bool
    status: str
    """One line for the page, e.g. "Telegram, SMS and Slack are one customer now."."""
    linked: tuple[str, ...] = ()
    """The channels that are one customer now."""


def one_customer(channels: Sequence[str]) -> str:
    """ "Telegram, SMS and Slack are one customer now." for the channels given."""
    names = [channel_name(c) for c in channels]
    which = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return f"{which} are one customer now."


async def link_panes(
    channels: Sequence[str], pane: Callable[[str], Pane], say: Say
) -> LinkOutcome:
    """Link every pane of `channels` to the first, with real codes over real webhooks.

    Args:
        channels: The sandbox's channels, the first asks for the codes.
        pane: The customer's pane of a channel.
        say: Types a message in a channel's pane (see `Say`).
    """
    if len(channels) < 2:
        return LinkOutcome(False, "There is only one pane in the sandbox: nothing to link.")
    first, *others = channels
    linked = [first]
    for other in others:
        reply = await _exchange(first, "link", pane, say, _CODE.search)
        found = _CODE.search(reply or "")
        if found is None:
            return LinkOutcome(
                False, f"{channel_name(first)} gave no linking code: {reply or 'no reply'}"
            )
        code = found.group(1)
        answer = await _exchange(other, code, pane, say, _is_link_answer)
        if answer is None or not (
            answer.startswith(texts.LINKED.split("{", 1)[0]) or answer == texts.ALREADY
        ):
            return LinkOutcome(
                False,
                f"{channel_name(other)} could not link: {answer or 'no reply'}",
                tuple(linked),
            )
        linked.append(other)
    return LinkOutcome(True, one_customer(linked), tuple(linked))


def _is_link_answer(text: str) -> bool:
    return text.startswith(texts.LINKED.split("{", 1)[0]) or text in (
        texts.ALREADY,
        texts.CODE_FAILED,
        texts.THROTTLED,
    )


async def _exchange(
    channel: str, text: str, pane: Callable[[str], Pane], say: Say, wanted: Callable[[str], object]
) -> str | None:
    """Say `text` on `channel` and return the bot's first reply there that is `wanted`."""
    box = pane(channel)
    cursor = box.last
    result = await say(channel, text)
    if not 200 <= result.status < 300:
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _WAIT
    while (remaining := deadline - loop.time()) > 0 and not box.closed:
        for entry in await box.wait(cursor, remaining):
            cursor = entry.seq
            if entry.sender == "bot" and wanted(entry.text):
                return entry.text
    return None
