"""What customers read about linking, and the words that ask for it."""

from __future__ import annotations

from adapters import registry

__all__ = [
    "ALREADY",
    "CODE",
    "CODE_FAILED",
    "DEEP_LINK",
    "LINKED",
    "LINK_CHOICE",
    "LINK_WORDS",
    "PHONE_LINKED",
    "PHONE_VERIFIED",
    "SWITCHED",
    "THROTTLED",
    "channel_name",
]

LINK_WORDS = ("link", "link my channels", "link channels")
"""Messages that ask for a linking code (case-insensitive, whole message)."""
LINK_CHOICE = "link_channels"
"""A button value that asks for a linking code."""

PHONE_LINKED = (
    "Thanks! Your number is verified: your text messages and this chat are one conversation now."
)
PHONE_VERIFIED = (
    "Thanks! Your number is verified. If you text us from it, we'll know it's you and carry "
    "on from here."
)
LINKED = "Linked! This chat and your {where} chat are one conversation now."
ALREADY = "This chat is already linked to that one."
THROTTLED = (
    "Too many tries with linking codes. Please wait 15 minutes, then ask for a new code by "
    "saying 'link'."
)
CODE_FAILED = (
    "That code didn't work. Codes work once, for 10 minutes: say 'link' on your other channel "
    "for a new one."
)
"""Identical for unknown, expired, used and mistyped codes: no oracle."""
CODE = (
    "Your linking code is {code}. Send it to us from your other channel (SMS, Telegram or "
    "Slack) within 10 minutes, and both chats become one conversation. Never share it with "
    "anyone else."
)
DEEP_LINK = "On Telegram, tap https://t.me/{bot}?start={payload}"
SWITCHED = "Picking up where we left off on {where}."


def channel_name(channel: str) -> str:
    """How customers call a channel (from the channel registry)."""
    return registry.channel_name(channel)
