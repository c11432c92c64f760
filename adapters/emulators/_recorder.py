"""Shared machinery of the platform emulators: recording calls, awaiting them, faults, serving.

Every emulator subclasses `Emulator`. Its request handlers parse the call, ask `_take_fault`
whether a fault was injected, answer, and `_record` the call. Tests read the record with
`calls`, `sent_to` and `next_call`; `next_call` waits on a future that `_record` resolves, so
nothing sleep-polls. Recording is a list append and a deque append: cheap enough for the
throughput benchmark.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import ClientSession, ClientTimeout, web

__all__ = ["Call", "Emulator", "WebhookResult", "post_webhook"]

_SHOWN_CALLS = 20


@dataclass(frozen=True, slots=True)
class Call:
    """One API call an emulator received."""

    method: str
    """The platform's method name: "sendMessage", "messages.create", "chat.postMessage"."""
    params: Mapping[str, Any]
    """The parsed parameters; JSON-encoded form fields (e.g. reply_markup) are decoded."""
    time: float
    """`time.time()` when the call was answered (for hung calls and long polls: arrived)."""
    status: int | None = None
    """The HTTP status answered; None for a call hung by `hang_next`."""
    recipient: str | None = None
    """For a send: the chat, number or channel it went to, as a string."""
    text: str | None = None
    """For a send: its text (Telegram caption, Twilio Body, Slack text)."""
    response: Any = field(default=None, repr=False)
    """The JSON body answered; None for hung calls and long polls."""

    @property
    def ok(self) -> bool:
        """Whether the call was answered with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What the webhook under test answered to a customer-side POST."""

    status: int
    """The HTTP status; 0 when the update was queued for polling instead of posted."""
    body: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass(slots=True)
class _Fault:
    status: int
    """0 for a hang."""
    retry_after: int
    method: str | None
    remaining: int


async def post_webhook(
    url: str,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    session: ClientSession | None = None,
    timeout: float = 30.0,
) -> WebhookResult:
    """POST `body` to `url` as the platform would, and return the status and body answered.

    Args:
        url: The webhook URL under test.
        body: The raw body; it must be exactly the bytes that were signed.
        headers: Content type and signature headers.
        session: A session to reuse (benchmarks); a short-lived one is made when None.
        timeout: Total seconds to wait for the answer.
    """
    limit = ClientTimeout(total=timeout)
    if session is None:
        async with ClientSession() as own:
            return await _post(own, url, body, headers, limit)
    return await _post(session, url, body, headers, limit)


async def _post(
    session: ClientSession,
    url: str,
    body: bytes | str,
    headers: Mapping[str, str],
    limit: ClientTimeout,
) -> WebhookResult:
    data = body.encode() if isinstance(body, str) else body
    async with session.post(url, data=data, headers=dict(headers), timeout=limit) as response:
        text = await response.text()
        return WebhookResult(response.status, text, dict(response.headers))


@dataclass(slots=True)
class _RateLimit:
    per_second: float
    per_recipient: bool
    method: str | None
    buckets: dict[str, list[float]] = field(default_factory=dict)
    """Per key (the recipient, or "" for all): [tokens, when last filled]."""

    def wait(self, key: str, now: float) -> float:
        """Seconds until a token is free (0: one is), after filling the bucket."""
        capacity = max(1.0, self.per_second)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = [capacity, now]
        bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * self.per_second)
        bucket[1] = now
        return 0.0 if bucket[0] >= 1.0 else (1.0 - bucket[0]) / self.per_second


class Emulator:
    """Base of the platform emulators: an aiohttp app, its call record and fault injection.

    Subclasses add their routes in `_setup` and answer faults in `_fault_response`.
    """

    channel: ClassVar[str] = ""
    _fault_exempt: ClassVar[frozenset[str]] = frozenset()
    """Methods a fault without `method=` never hits (identity checks, long polls)."""

    def __init__(self) -> None:
        self.base_url: str | None = None
        """The URL `serve`/`run` listen on; None until then (set it when serving elsewhere)."""
        self._app: web.Application | None = None
        self._calls: list[Call] = []
        self._unread: dict[str, deque[int]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._sent: dict[str, list[str]] = {}
        self._faults: list[_Fault] = []
        self._hung: set[asyncio.Future[None]] = set()
        self._limits: list[_RateLimit] = []

    # --- the app ---------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application answering like the platform (built once)."""
        if self._app is None:
            app = web.Application()
            self._setup(app)
            app.on_shutdown.append(self._on_shutdown)
            self._app = app
        return self._app

    def _setup(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _on_shutdown(self, app: web.Application) -> None:
        self.release_hung()

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
        """Start the app on a real socket in the running loop.

        Args:
            host: Interface to bind.
            port: Port to bind; 0 picks a free one.

        Returns:
            The runner (call `await runner.cleanup()` to stop) and the base URL, e.g.
            "http://127.0.0.1:54321".
        """
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.base_url = f"http://{shown}:{bound_port}"
        return runner, self.base_url

    @asynccontextmanager
    async def run(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve while the block runs; yields the base URL.

        Example:
            >>> async with TelegramEmulator().run() as url:
            ...     ...
        """
        runner, url = await self.serve(host, port)
        try:
            yield url
        finally:
            await runner.cleanup()

    # --- the record --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received so far, oldest first; only `method`'s when given."""
        if method is None:
            return list(self._calls)
        return [call for call in self._calls if call.method == method]

    def sent_to(self, recipient: str | int) -> list[str]:
        """Texts successfully sent to a chat id, phone number or channel, oldest first."""
        return list(self._sent.get(str(recipient), ()))

    def clear(self) -> None:
        """Forget recorded calls and pending faults (platform state such as blocks is kept)."""
        self._calls.clear()
        self._unread.clear()
        self._sent.clear()
        self._faults.clear()

    async def next_call(
        self,
        method: str | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """The oldest call not yet returned by `next_call`, waiting for one if needed.

        Args:
            method: Only consider calls of this method; others stay unread for later.
            timeout: Seconds to wait.

        Raises:
            AssertionError: No such call arrived in time; the message lists what was seen.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (call := self._take(method)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._timeout_message(method, timeout))
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                if (call := self._take(method)) is not None:
                    return call
                raise AssertionError(self._timeout_message(method, timeout)) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return call

    def _take(self, method: str | None) -> Call | None:
        if method is not None:
            queue = self._unread.get(method)
            return self._calls[queue.popleft()] if queue else None
        oldest: deque[int] | None = None
        for queue in self._unread.values():
            if queue and (oldest is None or queue[0] < oldest[0]):
                oldest = queue
        return self._calls[oldest.popleft()] if oldest is not None else None

    def _timeout_message(self, method: str | None, timeout: float) -> str:
        wanted = f"{method} call" if method else "call"
        unread = sorted(i for queue in self._unread.values() for i in queue)
        seen = self._calls[-_SHOWN_CALLS:]
        lines = [f"{self.channel} emulator: no {wanted} within {timeout} s."]
        lines.append(f"Unread calls: {[self._calls[i].method for i in unread] or 'none'}.")
        lines.append(f"Last {len(seen)} of {len(self._calls)} calls received:")
        lines.extend(f"  {_describe(call)}" for call in seen)
        return "\n".join(lines)

    def _record(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int | None,
        response: Any = None,
        *,
        recipient: str | None = None,
        text: str | None = None,
    ) -> Call:
        call = Call(method, params, time.time(), status, recipient, text, response)
        index = len(self._calls)
        self._calls.append(call)
        queue = self._unread.get(method)
        if queue is None:
            queue = self._unread[method] = deque()
        queue.append(index)
        if recipient is not None and text is not None and call.ok:
            sent = self._sent.get(recipient)
            if sent is None:
                sent = self._sent[recipient] = []
            sent.append(text)
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters.clear()
        return call

    # --- faults ------------------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, status: int = 429, retry_after: int = 2, *, method: str | None = None
    ) -> None:
        """Answer the next `count` calls with an error in the platform's own format.

        Args:
            count: How many calls fail.
            status: 429 (rate limited, with `retry_after`), 500, 503, ...
            retry_after: Seconds the platform asks to wait (429 only).
            method: Only calls of this method; when None, any method except identity checks
                and long polls (getMe, getUpdates, auth.test, accounts.fetch).
        """
        self._faults.append(_Fault(status, retry_after, method, count))

    def limit_rate(
        self, per_second: float, *, per_recipient: bool = False, method: str | None = None
    ) -> None:
        """Answer sends beyond `per_second` with a 429 and a Retry-After, as the platform does.

        A token bucket holding a second's worth (at least one): a burst that size passes,
        then one send per 1/`per_second` seconds. Several limits can hold at once (Telegram:
        30/s overall and 1/s per chat).

        Args:
            per_second: Sends allowed per second.
            per_recipient: Per chat, number or channel (Twilio: per sending number) instead of
                overall.
            method: Only calls of this method; when None, every send method.
        """
        self._limits.append(_RateLimit(per_second, per_recipient, method))

    def _over_limit(self, method: str, key: str) -> _Fault | None:
        """A 429 fault when a send to `key` exceeds a rate limit, else None (a token taken)."""
        if not self._limits:
            return None
        now = time.monotonic()
        applying = [lim for lim in self._limits if lim.method in (None, method)]
        waits = [lim.wait(key if lim.per_recipient else "", now) for lim in applying]
        longest = max(waits, default=0.0)
        if longest > 0:
            return _Fault(429, max(1, math.ceil(longest)), method, 1)
        for lim in applying:
            lim.buckets[key if lim.per_recipient else ""][0] -= 1.0
        return None

    def hang_next(self, count: int = 1, *, method: str | None = None) -> None:
        """Never answer the next `count` calls, until `release_hung` or app shutdown.

        Args:
            count: How many calls hang.
            method: As for `fail_next`.
        """
        self._faults.append(_Fault(0, 0, method, count))

    def release_hung(self) -> None:
        """Let hung calls finish (they answer 503); done automatically at app shutdown."""
        for waiter in self._hung:
            if not waiter.done():
                waiter.set_result(None)
        self._hung.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.method == method or (
                fault.method is None and method not in self._fault_exempt
            ):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _apply_fault(
        self, fault: _Fault, method: str, params: Mapping[str, Any]
    ) -> web.StreamResponse:
        if fault.status:
            response, body = self._fault_response(fault.status, fault.retry_after)
            self._record(method, params, fault.status, body)
            return response
        self._record(method, params, None)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hung.add(waiter)
        try:
            await waiter
        finally:
            self._hung.discard(waiter)
        return web.Response(status=503, text="emulator shutting down")

    def _fault_response(self, status: int, retry_after: int) -> tuple[web.Response, Any]:
        raise NotImplementedError


def _describe(call: Call) -> str:
    parts = [f"{call.method} -> {call.status if call.status is not None else 'hung'}"]
    if call.recipient is not None:
        parts.append(f"to {call.recipient}")
    if call.text is not None:
        shown = call.text if len(call.text) <= 60 else call.text[:57] + "..."
        parts.append(repr(shown))
    return " ".join(parts)


def decode_json_fields(
    fields: Iterable[tuple[str, Any]], keep_as_text: frozenset[str]
) -> dict[str, Any]:
    """Decode form values that clients JSON-encode (objects, numbers, booleans).

    Values under a `keep_as_text` key stay strings, so a text "42" is not turned into a number.
    A value that is not valid JSON stays a string.
    """
    params: dict[str, Any] = {}
    for key, value in fields:
        if isinstance(value, str) and key not in keep_as_text and value:
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        else:
            params[key] = value
    return params
