"""The Slack customer: reads Block Kit messages and presses their buttons (block_actions)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import ClientSession

from adapters.emulators._recorder import Call, Emulator, WebhookResult
from adapters.emulators.customer import Button, Shown
from adapters.emulators.slack import SlackEmulator, dm_channel

if TYPE_CHECKING:
    from adapters.base import Adapter

__all__ = ["SlackView"]

_EVENTS_PATH = "/webhooks/slack/events"
_INTERACTIVE_PATH = "/webhooks/slack/interactive"


class SlackView:
    """A DM with a Slack app's bot user as its customer sees it.

    Args:
        sandbox: Use the sandbox's workspace ("TSANDBOX1", "Sandbox").
    """

    channel: ClassVar[str] = "slack"
    default_customer: ClassVar[str] = "U0CUST001"
    signed_with: ClassVar[str] = "v0 signature"

    def __init__(self, *, sandbox: bool = False) -> None:
        self.token = "xoxb-" + secrets.token_urlsafe(18)
        """The bot token the adapter is given."""
        self.signing_secret = secrets.token_hex(16)
        """The signing secret the adapter is given."""
        team = {"team_id": "TSANDBOX1", "team": "Sandbox"} if sandbox else {}
        self.slack = SlackEmulator(self.token, **team)

    @property
    def emulator(self) -> Emulator:
        """The Slack emulator."""
        return self.slack

    def adapter(self, api_url: str, base_url: str | None) -> Adapter:
        """A `SlackAdapter` (Slack needs no URL from Baton: the app's settings hold it)."""
        from adapters.slack import SlackAdapter

        return SlackAdapter(self.token, self.signing_secret, api_base=api_url)

    def identity(self, customer: str) -> str:
        """ "T...:U...": the workspace and the user."""
        return f"{self.slack.team_id}:{customer}"

    def recipient(self, customer: str) -> str:
        """The user's DM channel with the bot."""
        return dm_channel(customer)

    def customer_for(self, seed: bytes, phone: str) -> str:
        """A user "USBX..." (Slack's own ids start "U0" or "W")."""
        return "USBX" + seed[14:18].hex().upper()

    def describe(self, customer: str, name: str) -> tuple[str, str]:
        """("Alex (U...)", "Sandbox workspace")."""
        return f"{name} ({customer})", f"{self.slack.team} workspace"

    def webhook(self, *, press: bool = False) -> str:
        """The events endpoint, or the interactivity endpoint for a press."""
        return _INTERACTIVE_PATH if press else _EVENTS_PATH

    def shown(self, call: Call) -> Shown | None:
        """The text unescaped, and the buttons of the actions blocks."""
        if call.method != "chat.postMessage" or not call.ok or call.recipient is None:
            return None
        ts = call.response.get("ts") if isinstance(call.response, dict) else None
        message = str(ts) if ts else ""
        blocks = call.params.get("blocks")
        blocks = [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
        buttons = tuple(
            button
            for block in blocks
            if block.get("type") == "actions"
            for button in _buttons(block, message)
        )
        sections = sum(1 for block in blocks if block.get("type") == "section")
        return Shown(_unescape(call.text or ""), buttons, message=message, split=sections > 1)

    async def say(
        self,
        base_url: str,
        customer: str,
        text: str,
        *,
        name: str = "Ada",
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """A DM `message` event, v0-signed."""
        return await self.slack.customer_message(
            base_url + _EVENTS_PATH, self.signing_secret, user=customer, text=text, session=session
        )

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
        """A v0-signed block_actions payload for a button; its text typed otherwise."""
        if button.kind != "action" or button.action_id is None:
            return await self.say(base_url, customer, button.value, name=name, session=session)
        return await self.slack.customer_press(
            base_url + _INTERACTIVE_PATH,
            self.signing_secret,
            user=customer,
            action_id=button.action_id,
            value=button.value,
            message_ts=button.message,
            block_id=button.block_id or "choices",
            session=session,
        )


def _buttons(block: dict[str, Any], message: str) -> list[Button]:
    buttons = []
    for element in block.get("elements") or ():
        if not isinstance(element, dict) or element.get("type") != "button":
            continue
        shown = element.get("text")
        label = shown.get("text", "") if isinstance(shown, dict) else ""
        value, action_id = element.get("value"), element.get("action_id")
        if isinstance(value, str) and isinstance(action_id, str):
            block_id = str(block.get("block_id", "")) or None
            buttons.append(
                Button(
                    _unescape(str(label)), "action", value, action_id, block_id, message or None
                )
            )
    return buttons


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
