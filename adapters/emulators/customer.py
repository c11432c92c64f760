"""The customer's side of an emulated platform: what they see of the bot's messages, and what
they do (type, press a button, answer an option) through the real signed webhook.

Each platform has one `CustomerView` (`telegram_customer.py`, `twilio_customer.py`,
`slack_customer.py`) that owns its emulator and the credentials the adapter under test is given.
The sandbox's panes and the test kit's chat scripts both read and act through it, so a button
is read from a sent message in one place.

Example:
    >>> view = TelegramView()
    >>> async with view.emulator.run() as api:
    ...     adapter = view.adapter(api, base_url)             # the real adapter, pointed here
    ...     await view.say(base_url, "4242", "hi")             # a signed webhook to Baton
    ...     shown = view.shown(await view.emulator.next_call())
    ...     await view.press(base_url, "4242", shown.buttons[0])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from aiohttp import ClientSession

from adapters.emulators._recorder import Call, Emulator, WebhookResult

if TYPE_CHECKING:
    from adapters.base import Adapter

__all__ = ["Button", "CustomerView", "Shown", "numbered_options"]

_OPTION = re.compile(r"(\d+)\. (.+)")


@dataclass(frozen=True, slots=True)
class Button:
    """One thing the customer can press or type to pick a choice."""

    label: str
    kind: str
    """"callback" (Telegram), "action" (Slack), "text" (a reply-keyboard button sends its
    label), "contact" (Telegram's share-my-number button) or "number" (typed)."""
    value: str
    """callback_data, the Slack button's value, or the text to type."""
    action_id: str | None = None
    block_id: str | None = None
    message: str | None = None
    """The id of the bot message carrying the button: Telegram message_id, Slack ts."""


@dataclass(frozen=True, slots=True)
class Shown:
    """What one API call of the bot shows the customer."""

    text: str
    """The text as read: Slack's unescaped, an SMS part without its "(1/2) " marker."""
    buttons: tuple[Button, ...] = ()
    media: tuple[str, ...] = ()
    """What is attached: Telegram "photo: <file>", MMS media URLs."""
    message: str = ""
    """The platform's id of the message (Telegram message_id, Slack ts); "" on SMS."""
    split: bool = False
    """The text was cut into pieces within this one call (Slack sections)."""
    parts: int = 1
    """How many calls, this one included, make up the message (an SMS "(1/3)" says 3)."""


class CustomerView(Protocol):
    """One emulated platform seen from the customer's side."""

    channel: ClassVar[str]
    """The channel, as named in the webhook paths."""
    default_customer: ClassVar[str]
    """The customer's platform id when none is given."""
    signed_with: ClassVar[str]
    """How the platform proves its webhooks are its own, in words."""

    @property
    def emulator(self) -> Emulator:
        """The platform emulator: its call record, fault injection and customer helpers."""
        ...

    def adapter(self, api_url: str, base_url: str | None) -> Adapter:
        """The channel's real adapter with this view's credentials, calling `api_url`; Baton
        listens at `base_url` (None: learned later)."""
        ...

    def identity(self, customer: str) -> str:
        """The customer's identity as Baton stores it."""
        ...

    def recipient(self, customer: str) -> str:
        """Where the bot's messages to `customer` go, as the emulator records them."""
        ...

    def customer_for(self, seed: bytes, phone: str) -> str:
        """A made-up customer of this platform for `seed` (at least 18 bytes) and a person's
        `phone`, that cannot be a real account."""
        ...

    def describe(self, customer: str, name: str) -> tuple[str, str]:
        """(who the customer is, who the bot is), as a chat header shows them."""
        ...

    def webhook(self, *, press: bool = False) -> str:
        """The webhook path a message (or a button press) is POSTed to."""
        ...

    def shown(self, call: Call) -> Shown | None:
        """What `call` shows the customer; None when it is not a message to them."""
        ...

    async def say(
        self,
        base_url: str,
        customer: str,
        text: str,
        *,
        name: str = "Ada",
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer sends `text`: a signed webhook to the Baton at `base_url`."""
        ...

    async def press(
        self,
        base_url: str,
        customer: str,
        button: Button,
        *,
        name: str = "Ada",
        phone: str | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer presses `button` (types its number, sends its label, shares `phone`).

        Raises:
            ValueError: A share-my-number button and no `phone`.
        """
        ...


def numbered_options(text: str) -> tuple[str, tuple[Button, ...]]:
    """(main text, options) of a text whose last paragraph may be "1. ...\\n2. ...".

    The options are "number" buttons: answering one types its number.
    """
    head, _, tail = text.rpartition("\n\n")
    buttons = []
    for number, line in enumerate(tail.split("\n"), start=1):
        found = _OPTION.fullmatch(line)
        if found is None or int(found.group(1)) != number:
            return text, ()
        buttons.append(Button(found.group(2), "number", str(number)))
    return head, tuple(buttons)
