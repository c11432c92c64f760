"""The Slack adapter: lifecycle, the signed webhook routes (through slack-bolt) and sending.

Every webhook is verified here first (v0 signature over the raw body, 5-minute window,
constant-time comparison), before bolt sees it and verifies it again: a missing, forged or stale
signature is a 401 and nothing is stored, whatever the body holds (bolt-python#1494 skipped
verification for bodies carrying `ssl_check=1`). Bolt then routes the request to a listener,
which commits the customer's message to the inbox before the HTTP answer (bolt runs with
`process_before_response=True`), so a 200 always means "stored".

Slack delivers at least once and has sent one message under several event ids
(node-slack-sdk#2141), so the inbox key is the message itself (see `parse.py`). Replies are
rendered by `render.py` and posted with slack-sdk's `chat.postMessage`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import (
    Address,
    Fetched,
    Inbound,
    Limits,
    Media,
    Prompt,
    Rendered,
    Sent,
    Sink,
)
from adapters.body import check_content_type, decode, json_too_deep, parse_json, read_raw
from adapters.errors import AdapterError, BadRequest, RateLimited, SendError, Unreachable
from adapters.fetching import download
from adapters.slack.parse import action_inbound, event_inbound
from adapters.slack.render import MAX_BUTTONS, MESSAGE_TEXT, render
from dialogs.media import read_location

__all__ = ["EVENTS_PATH", "INTERACTIVE_PATH", "SlackAdapter", "send_error"]

_SLACK_FILES = "https://files.slack.com"

log = logging.getLogger("baton.slack")

EVENTS_PATH = "/webhooks/slack/events"
INTERACTIVE_PATH = "/webhooks/slack/interactive"

_UNREACHABLE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "user_not_found",
        "is_archived",
        "user_disabled",
        "user_not_visible",
        "cannot_dm_bot",
    }
)
# "account_inactive" is Slack's word for a bot token of a deleted app or workspace: our own
# credentials are gone, not the customer's reachability.
_AUTH_FAILED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "team_disabled",
    }
)
_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class SlackAdapter:
    """The Slack channel: a bot user answering direct messages and mentions.

    Args:
        bot_token: The app's bot token ("xoxb-...").
        signing_secret: The app's signing secret; every webhook must be signed with it.
        api_base: The Web API's base URL without "/api" (an emulator in tests); Slack's when
            None.

    Example:
        >>> adapter = SlackAdapter("xoxb-...", "8f74...", api_base="http://127.0.0.1:8083")
    """

    channel: ClassVar[str] = "slack"
    limits: ClassVar[Limits] = Limits(max_text=MESSAGE_TEXT, max_choices=MAX_BUTTONS, buttons=True)

    def __init__(
        self, bot_token: str, signing_secret: str, *, api_base: str | None = None
    ) -> None:
        if not bot_token.startswith("xoxb-"):
            raise ValueError("the Slack bot token must be a bot token starting with 'xoxb-'")
        if not signing_secret.strip():
            raise ValueError("the Slack signing secret is required: every webhook is verified")
        self._token = bot_token
        self._signing_secret = signing_secret
        self._verifier = SignatureVerifier(signing_secret)
        self._base_url = api_base.rstrip("/") + "/api/" if api_base else None
        self._sink: Sink | None = None
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._bolt: AsyncApp | None = None
        self.bot_user_id = ""
        """The bot's own user id, from auth.test (set by `start`)."""
        self.bot_id = ""
        """The bot's bot id, from auth.test (set by `start`)."""
        self.team_id = ""
        """The workspace id, from auth.test (set by `start`)."""
        self._dm_channels: dict[str, str] = {}
        self._files: aiohttp.ClientSession | None = None

    # --- files -------------------------------------------------------------------------------

    async def fetch(self, media: Media, *, max_bytes: int) -> Fetched:
        """Download a file the customer shared (its `url_private`) with the bot token.

        Only a URL on Slack's file host (files.slack.com, or the configured API base) is
        fetched: the bot token never goes anywhere else.

        Raises:
            FetchRefused: another host, over `max_bytes`, or Slack refused.
        """
        if self._files is None:
            self._files = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        base = self._base_url.removesuffix("/api/") if self._base_url else _SLACK_FILES
        return await download(
            self._files,
            media.url,
            base=base,
            headers={"Authorization": f"Bearer {self._token}"},
            max_bytes=max_bytes,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token with auth.test, learn the bot's own ids and build the bolt app.

        Raises:
            AdapterError: Slack rejected the token or could not be reached.
        """
        if self._bolt is not None:
            return
        session, client = self._web_client()
        where = self._base_url or "https://slack.com/api/"
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            await session.close()
            raise AdapterError(
                f"Slack rejected the bot token at auth.test ({_error_code(exc) or exc}); "
                "check the app's xoxb- bot token"
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            await session.close()
            raise AdapterError(f"cannot reach the Slack API at {where}: {exc!r}") from exc
        self.bot_user_id = str(auth.get("user_id") or "")
        self.bot_id = str(auth.get("bot_id") or "")
        self.team_id = str(auth.get("team_id") or "")
        if not (self.bot_user_id and self.bot_id):
            await session.close()
            raise AdapterError("auth.test did not describe a bot user: use the app's bot token")
        identity = AuthorizeResult.from_auth_test_response(
            auth_test_response=auth, bot_token=self._token
        )

        async def authorize() -> AuthorizeResult:
            # One workspace, checked once above: no auth.test inside a webhook.
            return identity

        bolt = AsyncApp(
            name="baton",
            signing_secret=self._signing_secret,
            client=client,
            process_before_response=True,
            authorize=authorize,
            logger=_bolt_logger(),
        )
        bolt.event(re.compile(".*"))(self._on_event)
        bolt.action(re.compile(".*"))(self._on_action)
        self._session, self._client, self._bolt = session, client, bolt

    def _web_client(self) -> tuple[aiohttp.ClientSession, AsyncWebClient]:
        session = aiohttp.ClientSession()
        kwargs: dict[str, Any] = {"token": self._token, "session": session}
        if self._base_url is not None:
            kwargs["base_url"] = self._base_url
        return session, AsyncWebClient(**kwargs)

    async def prepare_send(self) -> None:
        """Make only the Web API client `send` needs: no auth.test, no bolt app.

        For a process that only sends replies (BATON_SEND_PROCESSES), where `start` would
        check the token and build the webhook side again.
        """
        if self._client is None:
            self._session, self._client = self._web_client()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        self._bolt = self._client = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        files, self._files = self._files, None
        if files is not None:
            await files.close()

    # --- inbound -----------------------------------------------------------------------------

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """`POST /webhooks/slack/events` and `POST /webhooks/slack/interactive`."""
        self._sink = sink
        return [web.post(EVENTS_PATH, self._events), web.post(INTERACTIVE_PATH, self._interactive)]

    async def _events(self, request: web.Request) -> web.StreamResponse:
        text = await self._verified_body(request, "application/json")
        body: Any = parse_json(request, text)
        if not isinstance(body, dict) or not isinstance(body.get("event", {}), dict):
            log.warning("slack events: signed body is not an Events API envelope; answered 400")
            raise web.HTTPBadRequest(text="not an Events API envelope")
        if body.get("type") not in ("event_callback", "url_verification"):
            log.info("slack events: %r acknowledged without action", body.get("type"))
            return web.Response(status=200)
        return await self._dispatch(request, text)

    async def _interactive(self, request: web.Request) -> web.StreamResponse:
        text = await self._verified_body(request, "application/x-www-form-urlencoded")
        payloads = parse_qs(text).get("payload", [])
        if len(payloads) == 1 and json_too_deep(payloads[0]):
            parse_json(request, payloads[0])  # refuses it with a logged 400
        try:
            body: Any = json.loads(payloads[0]) if len(payloads) == 1 else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("type") in (
            "event_callback",
            "url_verification",
            "ssl_check",
        ):
            log.warning("slack interactive: signed body has no valid payload; answered 400")
            raise web.HTTPBadRequest(text="expected payload=<JSON object>")
        return await self._dispatch(request, text)

    async def _verified_body(self, request: web.Request, content_type: str) -> str:
        """The raw body as text, once its signature checks out; raises the HTTP error if not.

        The signature is checked on exactly the bytes read, before anything is parsed.
        """
        raw = await read_raw(request)
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        if not self._signature_ok(raw, timestamp, signature):
            log.warning(
                "slack webhook %s from %s: missing, wrong or stale signature; answered 401",
                request.path,
                request.remote,
            )
            raise web.HTTPUnauthorized(text="invalid signature")
        check_content_type(request, content_type)
        return decode(request, raw)

    def _signature_ok(self, raw: bytes, timestamp: str | None, signature: str | None) -> bool:
        if not timestamp or not signature:
            return False
        if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
            return False  # int() and compare_digest would raise on these
        try:
            return self._verifier.is_valid(raw, timestamp, signature)
        except ValueError:  # a body that is not UTF-8 cannot carry a valid signature
            return False

    async def _dispatch(self, request: web.Request, text: str) -> web.StreamResponse:
        bolt = self._bolt
        if bolt is None:
            raise web.HTTPServiceUnavailable(text="the Slack channel is starting")
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), value)
        try:
            bolt_request = AsyncBoltRequest(
                body=text, query=request.query_string, headers=dict(headers)
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            log.warning(
                "slack webhook %s: bolt cannot read the body (%r); answered 400", request.path, exc
            )
            raise web.HTTPBadRequest(text="the body cannot be read") from None
        response = await bolt.async_dispatch(bolt_request)
        if response.status == 404:
            # No listener for this kind of payload (a view, a shortcut): it is verified and
            # needs nothing from us, and Slack would retry anything but a 2xx.
            return web.Response(status=200)
        return await to_aiohttp_response(response)

    async def _on_event(self, body: dict[str, Any]) -> BoltResponse | None:
        message = event_inbound(
            body, bot_user_id=self.bot_user_id, bot_id=self.bot_id, team_id=self.team_id
        )
        if message is None:
            return None  # acknowledged, nothing stored
        return await self._commit(message)

    async def _on_action(self, ack: Any, body: dict[str, Any]) -> BoltResponse | None:
        message = action_inbound(body, team_id=self.team_id)
        response = None if message is None else await self._commit(message)
        await ack()
        return response

    async def _commit(self, message: Inbound) -> BoltResponse | None:
        """Commit `message` to the inbox; a repeat is fine (the inbox answers False)."""
        if self._sink is None:
            raise RuntimeError("SlackAdapter.routes(sink) was not called")
        try:
            new = await self._sink.receive([message])
        except BadRequest as exc:
            log.warning("slack: inbox refused %s: %s", message.message_id, exc)
            return BoltResponse(status=exc.status, body=str(exc))
        if not new[0]:
            log.info("slack: %s already in the inbox (redelivery)", message.message_id)
        return None

    # --- outbound ----------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> Rendered:
        """Block Kit: escaped mrkdwn sections and one button per choice. Pure."""
        return render(prompt)

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Post each part with chat.postMessage to the route, or to the customer's DM.

        Raises:
            RateLimited: Slack answered 429.
            Unreachable: The channel or user is gone, archived or closed to the bot.
            SendError: Anything else; retryable for 5xx and connection failures.
        """
        client = self._client
        if client is None:
            raise SendError("the Slack adapter is not started", retryable=True)
        ids: list[str] = []
        try:
            channel = to.route or await self._dm_channel(client, to.identity)
            for part in rendered.parts:
                if part.get("upload"):
                    ids.extend(await _upload(client, channel, part["upload"]))
                    continue
                response = await client.chat_postMessage(
                    channel=channel, text=str(part["text"]), blocks=part.get("blocks") or None
                )
                ids.append(str(response.get("ts", "")))
        except SlackApiError as exc:
            raise send_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"cannot reach Slack: {exc!r}", retryable=True) from exc
        except SlackClientError as exc:
            raise SendError(f"Slack client error: {exc}", retryable=False) from exc
        return Sent(tuple(ids))

    async def _dm_channel(self, client: AsyncWebClient, identity: str) -> str:
        """The bot's DM channel with the user of `identity` ("T...:U..."), opened once."""
        channel = self._dm_channels.get(identity)
        if channel is None:
            user = identity.rpartition(":")[2]
            response = await client.conversations_open(users=user)
            found = response.get("channel")
            channel = str(found.get("id", "")) if isinstance(found, dict) else ""
            if not channel:
                raise SendError("conversations.open returned no channel", retryable=True)
            self._dm_channels[identity] = channel
        return channel


async def _upload(client: AsyncWebClient, channel: str, files: Any) -> list[str]:
    """Upload kept files to `channel` with files_upload_v2; returns their file ids."""
    uploads = []
    for location, name, _mime in files:
        try:
            data = await read_location(str(location))
        except (LookupError, OSError) as exc:
            raise SendError(f"the file to send cannot be read: {exc}", retryable=False) from None
        uploads.append({"content": data, "filename": str(name), "title": str(name)})
    response = await client.files_upload_v2(channel=channel, file_uploads=uploads)
    found = response.get("files") or []
    return [str(f.get("id", "")) for f in found if isinstance(f, dict)]


def _error_code(exc: SlackApiError) -> str:
    response = exc.response
    try:
        code = response.get("error") if response is not None else None
    except (AttributeError, TypeError, ValueError):
        code = None
    return code if isinstance(code, str) else ""


def _status(exc: SlackApiError) -> int:
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else 0


def _retry_after(exc: SlackApiError) -> int:
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            try:
                return max(1, int(str(value)))
            except ValueError:
                break
    return 1


def send_error(exc: SlackApiError) -> SendError:
    """The adapter error for a Slack API error."""
    status, code = _status(exc), _error_code(exc)
    if status == 429 or code == "ratelimited":
        return RateLimited(f"Slack rate limit ({code or status})", retry_after=_retry_after(exc))
    if code in _UNREACHABLE:
        return Unreachable(f"Slack: {code}", code=code)
    if code in _AUTH_FAILED:
        return SendError(f"Slack rejected the bot token: {code}", retryable=False, code=code)
    if status >= 500 or code in _TRANSIENT:
        return SendError(
            f"Slack server error {status} {code}".strip(), retryable=True, code=code or str(status)
        )
    return SendError(f"Slack: {code or status}", retryable=False, code=code or str(status))


class _NoTokenSkippedWarning(logging.Filter):
    """Drop bolt's startup warning that the client's token "will be ignored" when `authorize`
    is given: it is not, `authorize` hands bolt the same token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be ignored" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("baton.slack.bolt")
    if not any(isinstance(f, _NoTokenSkippedWarning) for f in logger.filters):
        logger.addFilter(_NoTokenSkippedWarning())
    return logger
