"""An emulator of the Slack Web API (`/api/{method}`) and of Slack's Events and interactivity.

Point the SDK at it with `AsyncWebClient(token="xoxb-...", base_url=base_url + "/api/")`.
The customer side (`customer_message`, `customer_press`) builds real-format payloads and POSTs
them signed v0 (`X-Slack-Signature`, `X-Slack-Request-Timestamp`), optionally as a retry.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from aiohttp import ClientSession, web
from slack_sdk.signature import SignatureVerifier

from adapters.emulators._recorder import Emulator, WebhookResult, decode_json_fields, post_webhook

__all__ = [
    "SlackEmulator",
    "block_actions_payload",
    "dm_channel",
    "event_payload",
    "signed_headers",
]

_JSON_PARAMS = frozenset(
    {
        "blocks",
        "attachments",
        "metadata",
        "unfurl_links",
        "unfurl_media",
        "mrkdwn",
        "reply_broadcast",
        "as_user",
        "link_names",
    }
)
_SEND_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "response_url"})

_Answer = tuple[int, dict[str, Any]]


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


class SlackEmulator(Emulator):
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

    def __init__(
        self,
        token: str | None = None,
        *,
        team_id: str = "T0EMU0001",
        team: str = "Emulator",
        user_id: str = "U0EMUBOT1",
        bot_id: str = "B0EMUBOT1",
        api_app_id: str = "A0EMUAPP1",
    ) -> None:
        super().__init__()
        self.token = token
        self.team_id = team_id
        self.team = team
        self.user_id = user_id
        self.bot_id = bot_id
        self.api_app_id = api_app_id
        self.users: dict[str, dict[str, Any]] = {}
        """Profiles users.info answers with, by user id (see `add_user`)."""
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        """Messages the bot posted, by (channel, ts)."""
        self._last_ts = 0.0
        self._responses: dict[str, str] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], _Answer]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_message,
            "chat.update": self._update,
            "conversations.open": self._open,
            "users.info": self._users_info,
        }

    def add_user(
        self, user_id: str, name: str, *, real_name: str | None = None, email: str | None = None
    ) -> None:
        """Set the profile users.info returns for `user_id`."""
        self.users[user_id] = self._user(user_id, name, real_name or name.title(), email)

    def sent_to(self, recipient: str | int) -> list[str]:
        """Texts successfully posted to a channel, or to the DM of a user id ("U...")."""
        return super().sent_to(dm_channel(str(recipient)))

    def next_ts(self) -> str:
        """A fresh message ts, later than every earlier one."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    # --- the API -------------------------------------------------------------------------

    def _setup(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_post("/response/{key}", self._respond)

    def _fault_response(self, status: int, retry_after: int) -> tuple[web.Response, Any]:
        if status == 429:
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(
                body, status=429, headers={"Retry-After": str(retry_after)}
            ), body
        body = {"ok": False, "error": "fatal_error" if status >= 500 else "invalid_request"}
        return web.json_response(body, status=status), body

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = decode_json_fields(request.query.items(), frozenset())
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update(
                    decode_json_fields(
                        ((k, v) for k, v in form.items() if isinstance(v, str)),
                        frozenset(form.keys()) - _JSON_PARAMS,
                    )
                )
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header else params.get("token", "")
        if not token:
            return self._answer(method, params, (200, {"ok": False, "error": "not_authed"}))
        if not str(token).startswith("xoxb-") or self.token not in (None, token):
            return self._answer(method, params, (200, {"ok": False, "error": "invalid_auth"}))
        fault = self._take_fault(method)
        if fault is not None:
            return await self._apply_fault(fault, method, params)
        handler = self._handlers.get(method)
        answer = handler(params) if handler is not None else (200, {"ok": True})
        return self._answer(method, params, answer)

    def _answer(self, method: str, params: dict[str, Any], answer: _Answer) -> web.Response:
        status, body = answer
        recipient = text = None
        if method in _SEND_METHODS and body.get("ok"):
            recipient, text = body["channel"], params.get("text")
        self._record(method, params, status, body, recipient=recipient, text=text)
        return web.json_response(body, status=status)

    def _auth_test(self, params: dict[str, Any]) -> _Answer:
        return 200, {
            "ok": True,
            "url": f"https://{self.team.lower()}.slack.com/",
            "team": self.team,
            "user": "baton",
            "team_id": self.team_id,
            "user_id": self.user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> _Answer:
        channel = params.get("channel")
        if not channel:
            return 200, {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return 200, {"ok": False, "error": "no_text"}
        channel = dm_channel(str(channel))
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "text": params.get("text", ""),
            "user": self.user_id,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "ts": ts,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.api_app_id,
                "name": "baton",
                "team_id": self.team_id,
                "deleted": False,
            },
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        self.messages[channel, ts] = message
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, params: dict[str, Any]) -> _Answer:
        channel = dm_channel(str(params.get("channel", "")))
        message = self.messages.get((channel, str(params.get("ts", ""))))
        if message is None:
            return 200, {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "attachments"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.user_id, "ts": self.next_ts()}
        return 200, {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": message,
        }

    def _open(self, params: dict[str, Any]) -> _Answer:
        if params.get("channel"):
            return 200, {"ok": True, "channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            return 200, {"ok": False, "error": "users_list_not_supplied"}
        channel_id = dm_channel(users[0]) if len(users) == 1 else "G" + secrets.token_hex(5)
        return 200, {
            "ok": True,
            "no_op": True,
            "already_open": True,
            "channel": {"id": channel_id},
        }

    def _users_info(self, params: dict[str, Any]) -> _Answer:
        user_id = str(params.get("user", ""))
        if not user_id.startswith(("U", "W")):
            return 200, {"ok": False, "error": "user_not_found"}
        user = self.users.get(user_id) or self._user(
            user_id, user_id.lower(), f"Customer {user_id}", None
        )
        return 200, {"ok": True, "user": user}

    def _user(self, user_id: str, name: str, real_name: str, email: str | None) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": "Europe/London",
            "is_bot": False,
            "is_admin": False,
            "profile": profile,
        }

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        channel = self._responses.get(request.match_info["key"])
        params: dict[str, Any] = await request.json() if request.can_read_body else {}
        if channel is None:
            self._record("response_url", params, 404, None)
            return web.Response(status=404, text="no_response_url")
        self._record("response_url", params, 200, None, recipient=channel, text=params.get("text"))
        return web.Response(text="ok")

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
