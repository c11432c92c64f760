"""An emulator of the Slack Web API (`/api/{method}`) and of Slack's Events and interactivity.

Point the SDK at it with `AsyncWebClient(token="xoxb-...", base_url=base_url + "/api/")`.
The customer side (`customer_message`, `customer_press`) builds real-format payloads and POSTs
them signed v0 (`X-Slack-Signature`, `X-Slack-Request-Timestamp`), optionally as a retry.

`SlackEmulator` is built in layers: `_slack_api.SlackWebApi` (the Web API's methods and what
they keep) and here the customer side; `_slack_payloads` makes what Slack sends an app.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from aiohttp import ClientSession

from adapters.emulators._recorder import WebhookResult, post_webhook
from adapters.emulators._slack_api import SlackWebApi
from adapters.emulators._slack_payloads import (
    block_actions_payload,
    dm_channel,
    event_payload,
    signed_headers,
)

__all__ = [
    "SlackEmulator",
    "block_actions_payload",
    "dm_channel",
    "event_payload",
    "signed_headers",
]


class SlackEmulator(SlackWebApi):
    """The Slack Web API, answering like slack.com/api.

    Args:
        token: The bot token; when None any "xoxb-" token is accepted.
        team_id: The workspace id auth.test reports and payloads carry.
        team: The workspace name.
        user_id: The bot's user id.
        bot_id: The bot's bot id (ignore-self middleware compares events against it).
        api_app_id: The app's id.

    Example:
        >>> emu = SlackEmulator()
        >>> client = AsyncWebClient(token="xoxb-1", base_url=base_url + "/api/")
    """

    channel: ClassVar[str] = "slack"
    _fault_exempt: ClassVar[frozenset[str]] = frozenset({"auth.test"})

    # --- the customer side ---------------------------------------------------------------

    async def post_event(
        self,
        events_url: str,
        signing_secret: str,
        payload: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """POST an Events API payload, signed, as Slack does.

        Args:
            events_url: The app's events endpoint.
            signing_secret: The app's signing secret.
            payload: The JSON, e.g. from `event_payload`.
            retry_num: Send as Slack's retry number 1-3 (adds X-Slack-Retry-Num/-Reason).
            retry_reason: X-Slack-Retry-Reason of a retry.
            timestamp: Sign with this Unix time (e.g. 301 s ago for a stale signature).
            session: A client session to reuse.
        """
        body = json.dumps(payload)
        headers = signed_headers(
            signing_secret, body, timestamp=timestamp, content_type="application/json"
        )
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return await post_webhook(events_url, body, headers, session=session)

    async def post_interaction(
        self,
        interactive_url: str,
        signing_secret: str,
        payload: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """POST an interactivity payload as `payload=<urlencoded JSON>`, signed."""
        body = "payload=" + quote(json.dumps(payload))
        headers = signed_headers(
            signing_secret,
            body,
            timestamp=timestamp,
            content_type="application/x-www-form-urlencoded",
        )
        return await post_webhook(interactive_url, body, headers, session=session)

    async def customer_message(
        self,
        events_url: str,
        signing_secret: str,
        *,
        user: str,
        text: str,
        team: str | None = None,
        channel: str | None = None,
        channel_type: str = "im",
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        files: list[dict[str, Any]] | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer writes to the bot: a signed `message` event_callback.

        Args:
            events_url: The app's events endpoint.
            signing_secret: The app's signing secret.
            user: The customer's user id.
            text: What they type.
            team: Their workspace; this emulator's team_id when None.
            channel: The conversation; the DM with the bot when None.
            channel_type: "im" for a DM.
            event_id: Reuse an event id (a redelivery); fresh when None.
            retry_num: Send as a retry (X-Slack-Retry-Num).
            retry_reason: X-Slack-Retry-Reason of a retry.
            timestamp: Sign with this Unix time (stale-signature tests).
            files: Files shared with the message (from `add_customer_file`).
            session: A client session to reuse.
        """
        payload = event_payload(
            team=team or self.team_id,
            user=user,
            text=text,
            channel=channel,
            api_app_id=self.api_app_id,
            bot_user_id=self.user_id,
            event_id=event_id,
            ts=self.next_ts(),
            channel_type=channel_type,
        )
        if files:
            payload["event"]["files"] = files
            payload["event"]["subtype"] = "file_share"
        return await self.post_event(
            events_url,
            signing_secret,
            payload,
            retry_num=retry_num,
            retry_reason=retry_reason,
            timestamp=timestamp,
            session=session,
        )

    async def customer_press(
        self,
        interactive_url: str,
        signing_secret: str,
        *,
        user: str,
        action_id: str,
        value: str,
        team: str | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        block_id: str = "choices",
        timestamp: int | None = None,
        session: ClientSession | None = None,
    ) -> WebhookResult:
        """The customer presses a button: a signed `block_actions` payload.

        Args:
            interactive_url: The app's interactivity endpoint.
            signing_secret: The app's signing secret.
            user: Who presses.
            action_id: The button's action_id.
            value: The button's value.
            team: Their workspace; this emulator's team_id when None.
            channel: The conversation; the DM with the bot when None.
            message_ts: The message carrying the button; the bot's last one there when None.
            block_id: The actions block's id.
            timestamp: Sign with this Unix time (stale-signature tests).
            session: A client session to reuse.
        """
        channel = channel or dm_channel(user)
        if message_ts is None:
            message_ts = max(
                (ts for ch, ts in self.messages if ch == channel), key=float, default=None
            )
        message = self.messages.get((channel, message_ts)) if message_ts else None
        key = secrets.token_hex(8)
        self._responses[key] = channel
        response_url = (
            f"{self.base_url}/response/{key}"
            if self.base_url
            else f"https://hooks.slack.com/actions/{self.team_id}/1/{key}"
        )
        payload = block_actions_payload(
            team=team or self.team_id,
            user=user,
            action_id=action_id,
            value=value,
            channel=channel,
            message_ts=message_ts,
            message=message,
            api_app_id=self.api_app_id,
            block_id=block_id,
            response_url=response_url,
        )
        return await self.post_interaction(
            interactive_url, signing_secret, payload, timestamp=timestamp, session=session
        )
