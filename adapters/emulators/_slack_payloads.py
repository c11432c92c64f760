"""What Slack sends an app, as the emulator sends it: signed headers, event and interaction
payloads, and the ids of direct-message channels."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

__all__ = ["block_actions_payload", "dm_channel", "event_payload", "signed_headers"]


def dm_channel(user: str) -> str:
    """The id of the bot's direct-message channel with `user` ("U0456" -> "D0456")."""
    return "D" + user[1:] if user[:1] in ("U", "W") else user


def signed_headers(
    signing_secret: str, body: str, *, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    """Headers of a v0-signed Slack request over the exact `body` sent.

    Args:
        signing_secret: The app's signing secret.
        body: The raw request body.
        timestamp: Unix time to sign with; now when None (older than 5 minutes is stale).
        content_type: The body's content type.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
    }


def event_payload(
    *,
    team: str,
    user: str,
    text: str,
    channel: str | None = None,
    api_app_id: str = "A0EMUAPP1",
    bot_user_id: str = "U0EMUBOT1",
    event_id: str | None = None,
    ts: str | None = None,
    channel_type: str = "im",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """An `event_callback` envelope carrying a customer's `message` event.

    Args:
        team: The workspace id ("T...").
        user: The customer's user id ("U...").
        text: What they typed.
        channel: The conversation; the bot's DM with `user` when None.
        api_app_id: Our app's id.
        bot_user_id: Our bot's user id (in `authorizations`).
        event_id: A unique "Ev..." id; fresh when None. Reuse it to imitate a redelivery.
        ts: The message ts; now when None.
        channel_type: "im" for a direct message, "channel" or "group" otherwise.
        thread_ts: Make it a reply in this thread.

    Example:
        >>> payload = event_payload(team="T0001", user="U0456", text="hi")
    """
    now = time.time()
    ts = ts or f"{now:.6f}"
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel or dm_channel(user),
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": team,
        "client_msg_id": str(uuid.uuid4()),
        "blocks": [
            {
                "type": "rich_text",
                "block_id": secrets.token_hex(2),
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]},
                ],
            }
        ],
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return {
        "token": "emulator-verification-token",
        "team_id": team,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def block_actions_payload(
    *,
    team: str,
    user: str,
    action_id: str,
    value: str,
    channel: str | None = None,
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    api_app_id: str = "A0EMUAPP1",
    block_id: str = "choices",
    label: str | None = None,
    response_url: str = "https://hooks.slack.com/actions/T0/1/emulator",
) -> dict[str, Any]:
    """A `block_actions` interactivity payload: the customer pressed a button.

    Args:
        team: The workspace id.
        user: Who pressed.
        action_id: The button's action_id.
        value: The button's value.
        channel: The conversation; the bot's DM with `user` when None.
        message_ts: The ts of the message carrying the button; now when None.
        message: That message, included as `message` when given.
        api_app_id: Our app's id.
        block_id: The actions block's id.
        label: The button's text; `value` when None.
        response_url: Where `respond()` posts.
    """
    now = f"{time.time():.6f}"
    channel = channel or dm_channel(user)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": api_app_id,
        "token": "emulator-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts or now,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
        "team": {"id": team, "domain": "emulator"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "directmessage"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": label or value, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": now,
            }
        ],
    }
    if message is not None:
        payload["message"] = dict(message)
    return payload
