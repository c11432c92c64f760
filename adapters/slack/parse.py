"""Slack Events API and interactivity payloads -> `Inbound`: pure functions, no I/O.

The inbox key of a message is the message itself, `"{channel}:{ts}"`, shared by the
`message` and `app_mention` events of one message (Slack has sent one message under several
event ids); a button press is keyed by its action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.base import Inbound, Media

__all__ = ["action_inbound", "event_inbound", "unescape"]

_CUSTOMER_SUBTYPES = frozenset({None, "file_share"})


def event_inbound(
    body: Mapping[str, Any], *, bot_user_id: str, bot_id: str, team_id: str = ""
) -> Inbound | None:
    """The customer message in an `event_callback` body, or None when it is not one.

    Kept: `message` events with no subtype (or `file_share`) in a direct message, and
    `app_mention` events. Dropped: anything from a bot (`bot_id`, `bot_message`) or from this
    bot's own user, edits, deletions, joins and every other subtype or event type.

    Args:
        body: The verified Events API envelope.
        bot_user_id: This bot's user id (its mention is stripped from the text).
        bot_id: This bot's bot id.
        team_id: The workspace, when the envelope lacks `team_id`.
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return None
    kind = event.get("type")
    if kind not in ("message", "app_mention"):
        return None
    if event.get("bot_id") or event.get("subtype") not in _CUSTOMER_SUBTYPES:
        return None
    if kind == "message" and event.get("channel_type") != "im":
        return None  # channel messages reach us as app_mention when they address the bot
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    team = body.get("team_id") or event.get("team") or team_id
    if not all(isinstance(v, str) and v for v in (user, channel, ts, team)):
        return None
    if user in (bot_user_id, bot_id):
        return None
    text = event.get("text")
    text = _strip_mention(text, bot_user_id) if isinstance(text, str) else ""
    media = _files(event.get("files"))
    if not text and not media:
        return None
    return Inbound(
        channel="slack",
        message_id=f"{channel}:{ts}",
        identity=f"{team}:{user}",
        text=unescape(text) if text else None,
        media=media,
        route=str(channel),
        raw=dict(event),
    )


def action_inbound(body: Mapping[str, Any], *, team_id: str = "") -> Inbound | None:
    """The button press in a `block_actions` payload, or None when it is not one of ours.

    Args:
        body: The verified interactivity payload.
        team_id: The workspace, when the payload lacks one.
    """
    if body.get("type") != "block_actions":
        return None
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    action = actions[0]
    action_id, value, action_ts = (
        action.get("action_id"),
        action.get("value"),
        action.get("action_ts"),
    )
    if not (isinstance(action_id, str) and action_id.startswith("choice:")):
        return None
    user = _get(body, "user", "id")
    team = _get(body, "team", "id") or _get(body, "user", "team_id") or team_id
    channel = _get(body, "channel", "id") or _get(body, "container", "channel_id")
    message_ts = _get(body, "container", "message_ts")
    if not all(isinstance(v, str) and v for v in (value, action_ts, user, team)):
        return None
    return Inbound(
        channel="slack",
        message_id=f"action:{channel or user}:{message_ts}:{action_ts}",
        identity=f"{team}:{user}",
        choice=str(value),
        route=channel or None,
        raw=dict(body),
    )


def _get(body: Mapping[str, Any], key: str, field: str) -> str:
    inner = body.get(key)
    value = inner.get(field) if isinstance(inner, Mapping) else None
    return value if isinstance(value, str) else ""


def unescape(text: str) -> str:
    """Undo Slack's escaping of message text (the inverse of `escape`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _strip_mention(text: str, bot_user_id: str) -> str:
    if bot_user_id:
        text = re.sub(rf"^\s*<@{re.escape(bot_user_id)}(\|[^>]*)?>[\s:,]*", "", text)
    return text.strip()


def _files(files: Any) -> tuple[Media, ...]:
    if not isinstance(files, list):
        return ()
    media = []
    for file in files:
        if not isinstance(file, Mapping) or not isinstance(file.get("url_private"), str):
            continue
        mime = file.get("mimetype") if isinstance(file.get("mimetype"), str) else None
        major = (mime or "").partition("/")[0]
        kind = major if major in ("image", "audio", "video") else "document"
        name = file.get("name") if isinstance(file.get("name"), str) else None
        media.append(Media(kind, file["url_private"], mime, name))
    return tuple(media)
