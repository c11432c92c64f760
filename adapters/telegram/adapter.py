"""The Telegram adapter: lifecycle, the webhook route, long polling and sending, on aiogram 3.

Inbound: Telegram POSTs each update to `/webhooks/telegram` with the secret it was given at
`setWebhook` in `X-Telegram-Bot-Api-Secret-Token`; a missing or wrong secret is rejected before
anything is stored. The dedupe key is the `update_id`, so a redelivered update (Telegram retries
until it gets a 2xx) is handled once, and an edit (a new update) is not mistaken for a repeat.
Only private chats with people are handled; other updates are acknowledged and ignored.

Parsing lives in `parse.py` and rendering in `render.py` (pure). Outbound: `render` turns a
`Prompt` into Bot API calls (plain dicts) and `send` makes them with aiogram's async client,
mapping Telegram's errors onto `RateLimited`, `Unreachable` and `SendError`. The client's
session is `BatonSession` (`session.py`): JSON request bodies and lean reading of sent
messages, which cut the CPU per send by about a quarter
(`python -m tests.benchmarks.micro_telegram`).

Policy on edits: an `edited_message` is recorded (`Inbound.edited`), flows do not re-run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any, ClassVar, Literal

from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    GetMe,
    GetUpdates,
    SendAudio,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendVideo,
    SetWebhook,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BufferedInputFile,
    Update,
)
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp import ClientError, web
from pydantic import ValidationError

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
from adapters.body import read_json
from adapters.errors import (
    AdapterError,
    BadRequest,
    FetchRefused,
    RateLimited,
    SendError,
    Unreachable,
)
from adapters.telegram.parse import FILE_PREFIX, inbound_from_update, plain_text_inbound
from adapters.telegram.render import MAX_TEXT, method_call, render_prompt
from adapters.telegram.session import BatonSession
from dialogs.media import read_location

__all__ = ["PATH", "TelegramAdapter", "send_error"]

log = logging.getLogger("baton.telegram")

PATH = "/webhooks/telegram"
"""Where Telegram POSTs updates."""

_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# aiogram parses every answer as `Response[<method's result type>]`, a pydantic generic that
# pydantic caches only weakly: under load the garbage collector drops it and every later call
# rebuilds its schema (measured at ~10% of the CPU of a message). Strong references keep them.
_RESPONSE_TYPES = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        SendMessage,
        SendPhoto,
        SendDocument,
        SendVideo,
        SendAudio,
        AnswerCallbackQuery,
        SetWebhook,
        DeleteWebhook,
        GetMe,
        GetUpdates,
    )
)
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
_POLL_TIMEOUT = 25  # seconds a getUpdates long poll waits


class TelegramAdapter:
    """The "telegram" channel.

    Args:
        token: The bot token from @BotFather (BATON_TELEGRAM_TOKEN).
        secret: The webhook secret token (BATON_TELEGRAM_SECRET), 1-256 of `A-Z a-z 0-9 _ -`.
            Required in webhook mode: without it anyone could post updates.
        api_base: Another Bot API server, e.g. an emulator at "http://127.0.0.1:8081".
        mode: "webhook" (Telegram POSTs to `/webhooks/telegram`) or "polling" (getUpdates).
        public_url: The https URL Telegram reaches this server at; when set in webhook mode,
            `start` registers the webhook there.

    Raises:
        ValueError: The token is malformed, or webhook mode has no (valid) secret.

    Example:
        >>> adapter = TelegramAdapter("123456:ABC", secret="s3cret",
        ...                           public_url="https://bot.example.com")
    """

    channel: ClassVar[str] = "telegram"
    limits: ClassVar[Limits] = Limits(max_text=MAX_TEXT, max_choices=10, buttons=True)

    def __init__(
        self,
        token: str,
        *,
        secret: str | None,
        api_base: str | None = None,
        mode: Literal["webhook", "polling"] = "webhook",
        public_url: str | None = None,
    ) -> None:
        try:
            validate_token(token)
        except TokenValidationError:
            raise ValueError(
                "BATON_TELEGRAM_TOKEN is not a bot token: expect "
                "'<digits>:<text>' as @BotFather gives it"
            ) from None
        if mode not in ("webhook", "polling"):
            raise ValueError(f"Telegram mode must be 'webhook' or 'polling', not {mode!r}")
        if mode == "webhook" and not secret:
            raise ValueError(
                "Telegram webhook mode needs a secret: set BATON_TELEGRAM_SECRET "
                "(1-256 characters of A-Z a-z 0-9 _ -), or use polling mode"
            )
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ValueError(
                "BATON_TELEGRAM_SECRET must be 1-256 characters of "
                "A-Z a-z 0-9 _ - (Telegram's rule for secret_token)"
            )
        self._token = token
        self._secret = secret
        self._api_base = api_base.rstrip("/") if api_base else None
        self.mode = mode
        self.username: str | None = None
        """The bot's username, from getMe at start (for t.me deep links)."""
        self.public_url = public_url.rstrip("/") if public_url else None
        self._bot: Bot | None = None
        self._sink: Sink | None = None
        self._poller: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    def _client(self) -> Bot:
        # Made on first use, inside the running loop that will own its connections.
        if self._bot is None:
            session = (
                BatonSession(api=TelegramAPIServer.from_base(self._api_base))
                if self._api_base
                else BatonSession()
            )
            self._bot = Bot(self._token, session=session)
        return self._bot

    async def start(self) -> None:
        """Check the token with getMe; register the webhook or start long polling.

        Raises:
            RuntimeError: Telegram refused the token or could not be reached.
        """
        bot = self._client()
        where = self._api_base or "api.telegram.org"
        try:
            me = await bot.get_me()
            self.username = me.username
            log.info(
                "Telegram bot @%s (id %s) via %s, %s mode", me.username, me.id, where, self.mode
            )
            if self.mode == "polling":
                await bot.delete_webhook(drop_pending_updates=False)
            elif self.public_url:
                url = self.public_url + PATH
                await bot.set_webhook(
                    url=url, secret_token=self._secret, allowed_updates=_ALLOWED_UPDATES
                )
                log.info("Telegram webhook set to %s", url)
            else:
                log.info(
                    "Telegram webhook not registered (no public URL): Telegram must "
                    "already POST to %s with the secret token",
                    PATH,
                )
        except TelegramUnauthorizedError:
            await self.aclose()
            raise AdapterError(
                f"Telegram ({where}) rejected the bot token: check BATON_TELEGRAM_TOKEN"
            ) from None
        except (AiogramError, ClientError, TimeoutError) as exc:
            await self.aclose()
            raise AdapterError(
                f"cannot start the Telegram channel via {where}: {exc}. "
                "Check BATON_TELEGRAM_TOKEN and BATON_TELEGRAM_API_BASE"
            ) from exc
        if self.mode == "polling":
            self._poller = asyncio.get_running_loop().create_task(
                self._poll(), name="baton-telegram-poll"
            )

    async def aclose(self) -> None:
        """Stop polling, let callback answers finish, close the HTTP session."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._background:
            _, pending = await asyncio.wait(set(self._background), timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    # --- files -------------------------------------------------------------------------------

    async def fetch(self, media: Media, *, max_bytes: int) -> Fetched:
        """Download a file the customer sent: getFile, then the file URL, through aiogram.

        Raises:
            FetchRefused: not a Telegram file id, over `max_bytes`, or Telegram refused.
        """
        if not media.url.startswith(FILE_PREFIX):
            raise FetchRefused("not a Telegram file id", reason="foreign_host")
        bot = self._client()
        try:
            found = await bot.get_file(media.url.removeprefix(FILE_PREFIX))
            if found.file_size is not None and found.file_size > max_bytes:
                raise FetchRefused(
                    f"the file has {found.file_size} bytes, more than {max_bytes}",
                    reason="too_large",
                )
            if not found.file_path:
                raise FetchRefused("Telegram gave no file path", reason="failed")
            url = bot.session.api.file_url(bot.token, found.file_path)
            data = bytearray()
            async for chunk in bot.session.stream_content(url, timeout=30, chunk_size=65536):
                data += chunk
                if len(data) > max_bytes:
                    raise FetchRefused(f"the file is over {max_bytes} bytes", reason="too_large")
        except TelegramAPIError as exc:
            raise FetchRefused(f"Telegram refused the file: {exc}", reason="failed") from None
        except (ClientError, OSError) as exc:
            raise FetchRefused(f"could not download the file: {exc!r}", reason="failed") from None
        return Fetched(bytes(data), media.mime_type)

    # --- inbound -----------------------------------------------------------------------------

    def routes(self, sink: Sink) -> Iterable[web.RouteDef]:
        """`POST /webhooks/telegram`; it also remembers `sink` for polling mode."""
        self._sink = sink

        async def webhook(request: web.Request) -> web.StreamResponse:
            self._verify(request)
            data = await read_json(request)
            plain = plain_text_inbound(data)  # the commonest update, read without its models
            if plain is not None:
                try:
                    await self._commit(sink, plain, data["update_id"])
                except BadRequest as exc:
                    log.warning("telegram webhook: update %s refused: %s", data["update_id"], exc)
                    raise web.HTTPBadRequest(text=str(exc)) from None
                return _ack()
            try:
                # No bot context: inbound objects are only read, never used to call Telegram
                # (`_answer_callback` uses the client itself), so none needs binding.
                update = Update.model_validate(data)
            except ValidationError as exc:
                if isinstance(data.get("update_id"), int):
                    # A verified update this aiogram cannot read. Refusing it would make
                    # Telegram redeliver it for a day and hold back the chat's later updates.
                    log.error(
                        "telegram webhook: update %s could not be read and is skipped "
                        "(%d errors): %s",
                        data["update_id"],
                        exc.error_count(),
                        exc.errors()[:3],
                    )
                    return _ack()
                log.warning(
                    "telegram webhook: not a Telegram Update (%d errors): %s",
                    exc.error_count(),
                    exc.errors()[:3],
                )
                raise web.HTTPBadRequest(text="not a Telegram Update") from None
            try:
                await self._take(sink, update, data)
            except BadRequest as exc:
                log.warning("telegram webhook: update %s refused: %s", update.update_id, exc)
                raise web.HTTPBadRequest(text=str(exc)) from None
            return _ack()

        return [web.post(PATH, webhook)]

    def _verify(self, request: web.Request) -> None:
        given = request.headers.get(_SECRET_HEADER)
        if (
            self._secret is None
            or given is None
            or not secrets.compare_digest(given.encode(), self._secret.encode())
        ):
            log.warning(
                "telegram webhook: %s secret token from %s; rejected",
                "missing" if given is None else "wrong",
                request.remote,
            )
            raise web.HTTPUnauthorized(text="Unauthorized")

    async def _take(self, sink: Sink, update: Update, raw: Mapping[str, Any]) -> None:
        """Normalise one update and commit it; returns after the commit."""
        message = inbound_from_update(update, raw)
        if message is not None:
            await self._commit(sink, message, update.update_id)
        if update.callback_query is not None:
            # After the commit, in the background: a slow answer must not delay the ack.
            self._spawn(self._answer_callback(update.callback_query.id))

    async def _commit(self, sink: Sink, message: Inbound, update_id: int) -> None:
        """Commit one update's message; returns after the commit."""
        new = (await sink.receive([message]))[0]
        if not new:
            log.debug("telegram update %s is a repeat; already stored", update_id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _answer_callback(self, callback_id: str) -> None:
        try:
            await self._client().answer_callback_query(callback_id)
        except Exception as exc:
            log.warning("answerCallbackQuery %s failed (ignored): %s", callback_id, exc)

    async def _poll(self) -> None:
        """Long-poll getUpdates; an update is confirmed (offset) only once committed."""
        sink = self._sink
        if sink is None:
            log.error("telegram polling: routes(sink) was never called; nothing to deliver to")
            return
        bot = self._client()
        offset: int | None = None
        failures = 0
        while True:
            delay = 0.0
            try:
                updates = await bot.get_updates(
                    offset=offset,
                    timeout=_POLL_TIMEOUT,
                    allowed_updates=_ALLOWED_UPDATES,
                    request_timeout=_POLL_TIMEOUT + 10,
                )
            except TelegramRetryAfter as exc:
                delay = float(exc.retry_after)
            except Exception as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning("telegram getUpdates failed (%s); again in %.1fs", exc, delay)
            else:
                failures = 0
                for update in updates:
                    raw = update.model_dump(mode="json", by_alias=True, exclude_none=True)
                    try:
                        await self._take(sink, update, raw)
                    except BadRequest as exc:
                        log.warning(
                            "telegram update %s refused (skipped): %s", update.update_id, exc
                        )
                    except Exception:
                        log.exception(
                            "telegram update %s not committed; fetched again", update.update_id
                        )
                        delay = 1.0
                        break
                    offset = update.update_id + 1
            if delay:
                await asyncio.sleep(delay)

    # --- outbound ----------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> Rendered:
        """Bot API calls for `prompt`. Pure; see `render_prompt`."""
        return render_prompt(prompt, max_choices=self.limits.max_choices)

    async def send(self, to: Address, rendered: Rendered) -> Sent:
        """Make the rendered calls in order to `to.route` (or `to.identity`).

        Raises:
            RateLimited: Telegram answered 429 with retry_after.
            Unreachable: The user blocked the bot (code "blocked") or the chat is gone.
            SendError: Anything else; `retryable` for 5xx and network errors.
        """
        chat = to.route or to.identity
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        bot = self._client()
        ids: list[str] = []
        for part in rendered.parts:
            try:
                method = method_call(chat_id, await _with_upload(part))
                result = await bot(method)
            except TelegramAPIError as exc:
                raise send_error(exc) from exc
            except ClientDecodeError as exc:
                raise SendError(
                    f"Telegram answered something that is not JSON: {exc.message}",
                    retryable=True,
                    code="decode",
                ) from exc
            except (ClientError, TimeoutError) as exc:
                raise SendError(
                    f"network error talking to Telegram: {exc!r}", retryable=True, code="network"
                ) from exc
            ids.append(str(result.message_id))
        return Sent(tuple(ids))


async def _with_upload(part: Mapping[str, Any]) -> Mapping[str, Any]:
    """`part` with a kept file's bytes in place of its location, to upload to Telegram."""
    upload = part.get("upload")
    if not upload:
        return part
    field = str(upload["field"])
    params = dict(part["params"])
    try:
        data = await read_location(str(params[field]))
    except (LookupError, OSError) as exc:
        raise SendError(f"the file to send cannot be read: {exc}", retryable=False) from None
    params[field] = BufferedInputFile(data, filename=str(upload["name"]))
    return {**part, "params": params}


def send_error(exc: TelegramAPIError) -> SendError:
    """Telegram's answer to a failed call, as the outbox understands it."""
    text = exc.message
    if isinstance(exc, TelegramRetryAfter):
        return RateLimited(f"Telegram rate limit: {text}", retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return Unreachable(f"Telegram: {text}", code="blocked")
    if isinstance(exc, TelegramBadRequest):
        if "chat not found" in text.lower():
            return Unreachable(f"Telegram: {text}", code="chat_not_found")
        return SendError(f"Telegram refused the message: {text}", retryable=False, code="400")
    if isinstance(exc, TelegramEntityTooLarge):
        return SendError(f"Telegram: file too large: {text}", retryable=False, code="413")
    if isinstance(exc, TelegramServerError | TelegramNetworkError):
        return SendError(f"Telegram unavailable: {text}", retryable=True, code="5xx")
    if isinstance(exc, TelegramUnauthorizedError):
        return SendError(
            "Telegram rejected the bot token: check BATON_TELEGRAM_TOKEN",
            retryable=False,
            code="401",
        )
    return SendError(f"Telegram error: {type(exc).__name__}: {text}", retryable=False)


def _ack() -> web.Response:
    """Telegram's acknowledgement of an update: 200 with `{}` (json_response without dumps)."""
    return web.Response(text="{}", content_type="application/json")
