"""A conversation test kit: one chat script that runs unchanged on Telegram, SMS and Slack.

`chat_on("telegram", app, database_url=...)` starts the platform's emulator on a loopback port,
a real Baton (storage, engine, outbox) serving `app` on another loopback port with that
channel's adapter pointed at the emulator, and yields a `ChatScript`: the customer's side of
the chat. `send` POSTs a real-format, correctly signed webhook through the emulator, `expect`
awaits the bot's next outbound API call at the emulator (no sleeping, no polling) and compares
the text as the customer sees it, and `choose` presses a button: a Telegram callback_query, a
Slack block_actions, or the option's number typed on SMS.

Example:
    >>> async with chat_on("twilio", app, database_url="sqlite+aiosqlite:///t.db") as chat:
    ...     await chat.send("where is my order")
    ...     await chat.expect("What's your name?")
    ...     await chat.send("Ada")
    ...     await chat.expect("Thanks, Ada. What's your order number?")

In a test suite, make the `chat` fixture with `chat_fixture(app)` in `conftest.py` and
parametrise tests over the channels; see `chat_fixture`. `running_baton` runs a Baton without
any emulator, for tests that drive the engine or the web channel directly.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import re
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from aiohttp import web

from adapters.base import Adapter
from adapters.emulators import (
    Call,
    Emulator,
    SlackEmulator,
    TelegramEmulator,
    TwilioEmulator,
    WebhookResult,
    dm_channel,
)
from adapters.web import LocalAdapter
from bot.app import ADAPTERS, ENGINE, STORE, create_app
from bot.engine import Engine
from bot.engine.builder import Feature
from bot.settings import Settings
from dialogs import App
from storage import Store

if TYPE_CHECKING:
    import pytest

__all__ = [
    "CHANNELS",
    "ChatScript",
    "Conversation",
    "Reply",
    "Running",
    "chat_fixture",
    "chat_on",
    "chats_on",
    "running_baton",
]

CHANNELS = ("telegram", "twilio", "slack")
"""The platform channels `chat_on` can emulate, as named in the webhook paths."""

_TEST_SETTINGS: dict[str, object] = {"outbox_base_delay": 0.05, "outbox_max_delay": 0.5}
"""Retry quickly: a fault injected at the emulator should not slow a test down by seconds."""
_TIMEOUT = 10.0
_SHOWN = 300  # characters of a text shown in a failure message
_OPTION = re.compile(r"(\d+)\. (.+)")
_PART_MARKER = re.compile(r"\((\d+)/(\d+)\) ")


# --- a running Baton ---------------------------------------------------------------------------


@dataclass
class Running:
    """A Baton serving on a loopback port: its web app, engine and store.

    Example:
        >>> async with running_baton(url, app) as baton:
        ...     found = await baton.store.identity("telegram", "4242")
    """

    app: web.Application
    base_url: str
    """Where it listens, e.g. "http://127.0.0.1:54321"."""

    @property
    def engine(self) -> Engine:
        """The engine (inbox, lanes, outbox); `await engine.idle()` waits for quiet."""
        return self.app[ENGINE]

    @property
    def store(self) -> Store:
        """The store, for reading what was recorded."""
        return self.app[STORE]

    @property
    def web(self) -> LocalAdapter:
        """The local "web" channel every Baton has."""
        adapter = self.app[ADAPTERS]["web"]
        assert isinstance(adapter, LocalAdapter)
        return adapter

    def url(self, path: str) -> str:
        """The full URL of `path` on this Baton."""
        return self.base_url + path


@asynccontextmanager
async def running_baton(
    database_url: str,
    app: App,
    *,
    adapters: Sequence[Adapter] = (),
    **settings: object,
) -> AsyncIterator[Running]:
    """Run Baton on a loopback port while the block runs; stop it gracefully afterwards.

    Args:
        database_url: An empty or existing database; the schema is created when empty.
        app: The bot.
        adapters: Platform channels to serve besides the local web channel.
        **settings: Other `Settings` fields, e.g. `outbox_base_delay=0.05`; and `features`,
            a list of features plugged into the engine after the built-in ones.

    Example:
        >>> async with running_baton("sqlite+aiosqlite:///t.db", app) as baton:
        ...     await baton.engine.receive([Inbound("web", "m1", "c1", text="hi")])
    """
    options = dict(settings)
    features = options.pop("features", ())
    if not isinstance(features, (list, tuple)):
        raise TypeError("features must be a list of engine features")
    async with _serving(database_url, app, lambda _: adapters, options, features) as baton:
        yield baton


@asynccontextmanager
async def _serving(
    database_url: str,
    app: App,
    adapters: Callable[[str], Sequence[Adapter]],
    settings: Mapping[str, object],
    features: Sequence[Feature] = (),
) -> AsyncIterator[Running]:
    """`running_baton`, with adapters made once the URL Baton will listen on is known.

    The socket is bound before the app starts, so the Telegram adapter can register its
    webhook at the emulator while Baton starts, as it does with Telegram.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        # A test process starts Baton many times: freezing the collector's view of it each
        # time would keep every earlier test's cyclic garbage alive (see bot.gc_tuning).
        options = {"gc_freeze": False, **settings}
        config = Settings(database_url=database_url, **options)  # type: ignore[arg-type]
        web_app = await create_app(config, app, adapters=adapters(base_url), features=features)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
    except BaseException:
        sock.close()
        raise
    try:
        await web.SockSite(runner, sock).start()
        yield Running(web_app, base_url)
    finally:
        await runner.cleanup()
        sock.close()


# --- what the customer sees ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conversation:
    """The customer's conversation as stored: who holds it, why, and what is remembered."""

    status: str
    """"bot", "waiting" (for a person), "agent" or "resolved"."""
    handoff_reason: str | None
    """The reason given to `ctx.handoff`, or the interruption's, while handed off."""
    memory: Mapping[str, Any]
    """What flows remembered about the customer (`remember=`, `ctx.memory`)."""
    customer_id: int


@dataclass(frozen=True, slots=True)
class _Button:
    """One thing the customer can press or type to pick a choice."""

    label: str
    kind: str
    """"callback" (Telegram), "action" (Slack), "text" (a reply-keyboard button sends its
    label), "contact" (Telegram's share-my-number button) or "number" (typed)."""
    value: str
    """callback_data, the Slack button's value, or the text to type."""
    action_id: str | None = None
    message: str | None = None
    """The id of the bot message carrying the button: Telegram message_id, Slack ts."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply of the bot as the customer sees it; several API calls when it was split.

    Example:
        >>> reply = await chat.expect("What's your name?")
        >>> reply.calls[0].params["chat_id"]
        4242
    """

    text: str
    """The main text: on SMS without the numbered options and the "(1/2)" part markers, on
    Slack unescaped."""
    full_text: str
    """Everything shown, numbered options included."""
    choices: tuple[str, ...]
    """The labels of the choices offered, in order."""
    calls: tuple[Call, ...] = field(repr=False)
    """The emulator's record of each API call that made up the reply."""
    buttons: tuple[_Button, ...] = field(default=(), repr=False)
    split: bool = field(default=False, repr=False)
    """Whether the channel cut the text into pieces (messages, parts or Slack sections)."""

    def matches(self, expected: str | re.Pattern[str]) -> bool:
        """Whether `expected` is this reply's text, with or without the listed options.

        A pattern must match the whole text. A reply split over several messages is compared
        with whitespace collapsed, because the split ate the whitespace at each cut.
        """
        if isinstance(expected, re.Pattern):
            return any(expected.fullmatch(text) for text in (self.text, self.full_text))
        if expected in (self.text, self.full_text):
            return True
        return self.split and _squash(expected) in (
            _squash(self.text),
            _squash(self.full_text),
        )


class _Shown(NamedTuple):
    """What one API call shows the customer."""

    text: str
    buttons: tuple[_Button, ...] = ()
    split: bool = False
    """The text was cut into pieces within this one call (Slack sections)."""


def _shorten(text: str) -> str:
    if len(text) <= _SHOWN:
        return repr(text)
    half = _SHOWN // 2
    return f"{text[:half]!r} ... ({len(text)} characters) ... {text[-half:]!r}"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _split_options(text: str) -> tuple[str, tuple[str, ...]]:
    """(main text, option labels) of a text whose last paragraph may be "1. ...\\n2. ..."."""
    head, _, tail = text.rpartition("\n\n")
    labels = []
    for number, line in enumerate(tail.split("\n"), start=1):
        found = _OPTION.fullmatch(line)
        if found is None or int(found.group(1)) != number:
            return text, ()
        labels.append(found.group(2))
    return head, tuple(labels)


# --- the channels --------------------------------------------------------------------------------


class _Kit(Protocol):
    """What `ChatScript` needs from one channel: its emulator, adapter and customer side."""

    channel: ClassVar[str]
    default_customer: ClassVar[str]

    @property
    def emulator(self) -> Emulator: ...

    def adapter(self, api_url: str, base_url: str) -> Adapter: ...

    def identity(self, customer: str) -> str: ...

    def recipient(self, customer: str) -> str: ...

    async def say(self, baton: Running, customer: str, name: str, text: str) -> WebhookResult: ...

    async def press(
        self, baton: Running, customer: str, name: str, button: _Button
    ) -> WebhookResult: ...

    def show(self, call: Call) -> _Shown: ...

    def parts(self, call: Call) -> int: ...


class _TelegramKit:
    channel: ClassVar[str] = "telegram"
    default_customer: ClassVar[str] = "4242"
    token = "123456:TEST-token"

    def __init__(self) -> None:
        self.emu = TelegramEmulator(self.token)
        self.secret = secrets.token_urlsafe(24)

    @property
    def emulator(self) -> Emulator:
        return self.emu

    def adapter(self, api_url: str, base_url: str) -> Adapter:
        from adapters.telegram import TelegramAdapter

        # With a public URL the adapter registers its webhook (and secret) at the emulator,
        # which then delivers updates there, as Telegram does.
        return TelegramAdapter(
            self.token, secret=self.secret, api_base=api_url, public_url=base_url
        )

    def identity(self, customer: str) -> str:
        return customer

    def recipient(self, customer: str) -> str:
        return customer

    async def say(self, baton: Running, customer: str, name: str, text: str) -> WebhookResult:
        return await self.emu.customer_text(user_id=int(customer), text=text, first_name=name)

    async def press(
        self, baton: Running, customer: str, name: str, button: _Button
    ) -> WebhookResult:
        if button.kind == "callback":
            return await self.emu.customer_press(
                user_id=int(customer),
                data=button.value,
                message_id=int(button.message) if button.message else None,
                first_name=name,
            )
        if button.kind == "contact":
            raise AssertionError(
                f"{button.label!r} shares the customer's phone number: use "
                "chat.emulator.customer_contact(user_id=..., phone=...) to press it"
            )
        return await self.say(baton, customer, name, button.value)

    def show(self, call: Call) -> _Shown:
        text = call.text or ""
        markup = call.params.get("reply_markup")
        result = call.response.get("result") if isinstance(call.response, dict) else None
        message = str(result["message_id"]) if isinstance(result, dict) else None
        buttons: list[_Button] = []
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard") or markup.get("keyboard") or ():
                for key in row:
                    label = str(key.get("text", ""))
                    if "callback_data" in key:
                        buttons.append(
                            _Button(label, "callback", str(key["callback_data"]), None, message)
                        )
                    elif key.get("request_contact"):
                        buttons.append(_Button(label, "contact", label))
                    elif "url" not in key:
                        buttons.append(_Button(label, "text", label))
        return _Shown(text, tuple(buttons))

    def parts(self, call: Call) -> int:
        return 1


class _TwilioKit:
    channel: ClassVar[str] = "twilio"
    default_customer: ClassVar[str] = "+15551230001"
    number = "+15005550006"
    """Our Twilio number."""

    def __init__(self) -> None:
        self.emu = TwilioEmulator()

    @property
    def emulator(self) -> Emulator:
        return self.emu

    def adapter(self, api_url: str, base_url: str) -> Adapter:
        from adapters.twilio import TwilioAdapter

        return TwilioAdapter(
            self.emu.account_sid,
            self.emu.auth_token,
            self.number,
            public_url=base_url,
            api_base=api_url,
        )

    def identity(self, customer: str) -> str:
        return customer

    def recipient(self, customer: str) -> str:
        return customer

    async def say(self, baton: Running, customer: str, name: str, text: str) -> WebhookResult:
        from adapters.twilio import SMS_PATH

        return await self.emu.customer_sms(
            baton.url(SMS_PATH), from_=customer, to=self.number, body=text
        )

    async def press(
        self, baton: Running, customer: str, name: str, button: _Button
    ) -> WebhookResult:
        return await self.say(baton, customer, name, button.value)

    def show(self, call: Call) -> _Shown:
        marker = _PART_MARKER.match(call.text or "")
        body = call.text or ""
        return _Shown(body[marker.end() :] if marker else body)

    def parts(self, call: Call) -> int:
        found = _PART_MARKER.match(call.text or "")
        return int(found.group(2)) - int(found.group(1)) + 1 if found else 1


class _SlackKit:
    channel: ClassVar[str] = "slack"
    default_customer: ClassVar[str] = "U0CUST001"
    token = "xoxb-chatscript-token"

    def __init__(self) -> None:
        self.emu = SlackEmulator(self.token)
        self.signing_secret = secrets.token_hex(16)

    @property
    def emulator(self) -> Emulator:
        return self.emu

    def adapter(self, api_url: str, base_url: str) -> Adapter:
        from adapters.slack import SlackAdapter

        return SlackAdapter(self.token, self.signing_secret, api_base=api_url)

    def identity(self, customer: str) -> str:
        return f"{self.emu.team_id}:{customer}"

    def recipient(self, customer: str) -> str:
        return dm_channel(customer)

    async def say(self, baton: Running, customer: str, name: str, text: str) -> WebhookResult:
        from adapters.slack import EVENTS_PATH

        return await self.emu.customer_message(
            baton.url(EVENTS_PATH), self.signing_secret, user=customer, text=text
        )

    async def press(
        self, baton: Running, customer: str, name: str, button: _Button
    ) -> WebhookResult:
        from adapters.slack import INTERACTIVE_PATH

        if button.kind != "action" or button.action_id is None:
            return await self.say(baton, customer, name, button.value)
        return await self.emu.customer_press(
            baton.url(INTERACTIVE_PATH),
            self.signing_secret,
            user=customer,
            action_id=button.action_id,
            value=button.value,
            message_ts=button.message,
        )

    def show(self, call: Call) -> _Shown:
        text = (call.text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        ts = call.response.get("ts") if isinstance(call.response, dict) else None
        buttons = [
            _Button(
                str(element.get("text", {}).get("text", "")),
                "action",
                str(element.get("value", "")),
                str(element.get("action_id", "")),
                str(ts) if ts else None,
            )
            for block in call.params.get("blocks") or ()
            if isinstance(block, dict) and block.get("type") == "actions"
            for element in block.get("elements", ())
            if isinstance(element, dict) and element.get("type") == "button"
        ]
        sections = [
            block
            for block in call.params.get("blocks") or ()
            if isinstance(block, dict) and block.get("type") == "section"
        ]
        return _Shown(text, tuple(buttons), split=len(sections) > 1)

    def parts(self, call: Call) -> int:
        return 1


_KITS: dict[str, Callable[[], _Kit]] = {
    "telegram": _TelegramKit,
    "twilio": _TwilioKit,
    "slack": _SlackKit,
}


class _Mailbox:
    """Hands each customer the bot's messages to them, in the order the emulator got them.

    Only one reader awaits the emulator at a time; a message for another customer is kept for
    that customer. Calls that are not messages (getMe, answerCallbackQuery, auth.test, failed
    sends) are passed over; they stay in `emulator.calls()`.
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._lock = asyncio.Lock()
        self._kept: dict[str, deque[Call]] = {}

    async def next(self, recipient: str, timeout: float) -> Call:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            kept = self._kept.get(recipient)
            if kept:
                return kept.popleft()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                async with asyncio.timeout(remaining), self._lock:
                    if self._kept.get(recipient):
                        continue
                    call = await self._emulator.next_call(None, timeout=remaining)
            except AssertionError:  # the emulator's "no call within ..."
                raise TimeoutError from None
            self._keep(call)

    async def drain(self) -> None:
        """Take every call the emulator has received but nobody read yet, without waiting."""
        async with self._lock:
            while True:
                try:
                    call = await self._emulator.next_call(None, timeout=0)
                except AssertionError:
                    return
                self._keep(call)

    def unread(self, recipient: str) -> list[Call]:
        return list(self._kept.get(recipient, ()))

    def _keep(self, call: Call) -> None:
        if call.ok and call.recipient is not None and call.method != "sendChatAction":
            self._kept.setdefault(call.recipient, deque()).append(call)


# --- the script ----------------------------------------------------------------------------------


class ChatScript:
    """One customer chatting with a running Baton through a platform emulator.

    Made by `chat_on` (or the `chat_fixture` fixture). Each method is one step of the script;
    a step that does not go as written raises `AssertionError` saying what the customer saw.

    Example:
        >>> await chat.send("where is my order")
        >>> await chat.expect("What's your name?")
        >>> await chat.send("Ada")
        >>> await chat.expect("Thanks, Ada. What's your order number?")
        >>> await chat.send("1234 5678")
        >>> await chat.expect_choices("Track it", "Talk to a person")
        >>> await chat.choose("Talk to a person")   # a button; "2" typed on SMS
        >>> assert (await chat.conversation()).status == "waiting"
    """

    def __init__(
        self,
        kit: _Kit,
        baton: Running,
        mailbox: _Mailbox,
        customer: str,
        *,
        name: str = "Ada",
    ) -> None:
        self._kit = kit
        self._mailbox = mailbox
        self.baton = baton
        """The running Baton (`store`, `engine`, `url(path)`)."""
        self.channel: str = kit.channel
        """"telegram", "twilio" or "slack"."""
        self.customer = customer
        """The customer on the platform: Telegram user id, phone number or Slack user id."""
        self.identity = kit.identity(customer)
        """The customer's identity as Baton stores it (Slack: "T...:U...")."""
        self.name = name
        """The customer's first name, where the platform sends one (Telegram)."""
        self.replies: list[Reply] = []
        """Every reply read so far, oldest first."""
        self._spoke = False

    @property
    def emulator(self) -> Emulator:
        """The platform emulator: `calls()`, `fail_next(...)`, `hang_next()`, customer helpers.

        The script reads the emulator's `next_call` queue itself; check other calls (e.g.
        answerCallbackQuery) with `calls(method)`.
        """
        return self._kit.emulator

    @property
    def reply(self) -> Call:
        """The last API call of the last reply read: its raw params, for channel checks.

        Example:
            >>> await chat.expect("What's your name?")
            >>> chat.reply.params["chat_id"]     # Telegram
            4242
        """
        if not self.replies:
            raise AssertionError("no reply read yet: call expect() first")
        return self.replies[-1].calls[-1]

    @property
    def choices(self) -> tuple[str, ...]:
        """The labels of the choices of the last reply read; () when it offered none."""
        return self.replies[-1].choices if self.replies else ()

    def with_customer(self, customer: str, *, name: str = "Bob") -> ChatScript:
        """Another customer on the same channel and Baton.

        Args:
            customer: Their platform id: a Telegram user id ("4343"), a phone number
                ("+15551230002") or a Slack user id ("U0CUST002").
            name: Their first name (Telegram).
        """
        return ChatScript(self._kit, self.baton, self._mailbox, customer, name=name)

    async def send(self, text: str) -> WebhookResult:
        """The customer sends `text`: a signed webhook in the platform's format.

        Returns what Baton answered the platform.

        Raises:
            AssertionError: Baton did not accept the webhook (not a 2xx).
        """
        result = await self._kit.say(self.baton, self.customer, self.name, text)
        self._accepted(result, f"the message {text!r}")
        return result

    async def expect(
        self,
        text: str | re.Pattern[str],
        *,
        choices: Sequence[str] | None = None,
        timeout: float = _TIMEOUT,
    ) -> Reply:
        r"""Await the bot's next message to the customer and check it reads `text`.

        On SMS the numbered options may be left out of `text`; pass them as `choices`.

        Args:
            text: The message text as the customer reads it, or a pattern (`re.compile`) the
                whole text must match, for texts that change (dates, queue positions).
            choices: The labels of the choices it must offer, in order; not checked when None.
            timeout: Seconds to wait for the message.

        Example:
            >>> await chat.expect("Which language do you prefer?",
            ...                   choices=["English", "Nederlands"])
            >>> await chat.expect(re.compile(r"Your code is \d{6}\."))
        """
        reply = await self._read(timeout, text)
        if not reply.matches(text):
            raise AssertionError(self._mismatch(text, reply))
        if choices is not None:
            self._check_choices(reply, tuple(choices))
        return reply

    async def expect_choices(self, *labels: str, timeout: float = _TIMEOUT) -> Reply:
        """Check the choices of the bot's last message (its next one, if the customer spoke).

        Example:
            >>> await chat.expect_choices("Track it", "Talk to a person")
        """
        reply = await self._current(timeout)
        self._check_choices(reply, labels)
        return reply

    async def next_reply(self, timeout: float = _TIMEOUT) -> Reply:
        """Await the bot's next message to the customer, whatever it says."""
        return await self._read(timeout, None)

    async def choose(self, label: str, *, timeout: float = _TIMEOUT) -> WebhookResult:
        """The customer picks the choice labelled `label` in the latest message offering it.

        Telegram: a callback_query with the button's callback_data. Slack: a block_actions
        payload with the button's value. SMS (or options listed as text): the option's number
        is typed. When the customer spoke since the last reply was read, the next reply is
        awaited first.

        Raises:
            AssertionError: No message offers `label`, or Baton refused the webhook.
        """
        if self._spoke or not self.replies:
            await self._read(timeout, None)
        offered = next((r for r in reversed(self.replies) if r.buttons), None)
        buttons = offered.buttons if offered is not None else ()
        button = next((b for b in buttons if b.label == label), None)
        if button is None:
            button = next((b for b in buttons if b.label.casefold() == label.casefold()), None)
        if button is None:
            shown = [b.label for b in buttons]
            raise AssertionError(
                f"{self.channel}: no choice {label!r} to press; the latest choices are {shown}"
            )
        result = await self._kit.press(self.baton, self.customer, self.name, button)
        self._accepted(result, f"pressing {label!r}")
        return result

    async def read_all(self) -> list[Reply]:
        """Read every message the bot has sent the customer so far, once Baton is idle.

        Idle means no turn runs and no reply waits to be sent (the engine says so; nothing is
        timed), so every reply to what the customer sent has arrived. Use it to pass over
        messages a script does not care about.

        Example:
            >>> await chat.send("agent")
            >>> await chat.expect("I've asked a person from our team to help you. ...")
            >>> await chat.read_all()   # the queue position, whatever it is
        """
        await self.baton.engine.idle()
        await self._mailbox.drain()
        recipient = self._kit.recipient(self.customer)
        read = []
        while self._mailbox.unread(recipient):
            read.append(await self._read(_TIMEOUT, None))
        return read

    async def expect_no_reply(self) -> None:
        """Check the bot sent the customer nothing (not read yet) once Baton is idle.

        Example:
            >>> await chat.send("STOP")
            >>> await chat.expect_no_reply()
        """
        read = await self.read_all()
        if read:
            texts = [reply.full_text for reply in read]
            raise AssertionError(f"{self.channel}: expected no reply, but the bot sent {texts}")

    async def conversation(self) -> Conversation:
        """The customer's conversation once Baton has handled everything sent so far.

        Example:
            >>> conversation = await chat.conversation()
            >>> (conversation.status, conversation.handoff_reason)
            ('waiting', 'customer asked for a person')
        """
        await self.baton.engine.idle()
        store = self.baton.store
        found = await store.identity(self.channel, self.identity)
        if found is None:
            raise AssertionError(
                f"{self.channel}: Baton has no customer {self.identity!r}; did they send anything?"
            )
        customer_id = found[1]
        row = await store.conversation(customer_id)
        state = await store.load_state(customer_id)
        return Conversation(
            status=str(row["status"]),
            handoff_reason=row["handoff_reason"],
            memory=dict(state.memory),
            customer_id=customer_id,
        )

    # --- internals ---------------------------------------------------------------------------

    def _accepted(self, result: WebhookResult, what: str) -> None:
        if not 200 <= result.status < 300:
            raise AssertionError(
                f"{self.channel}: Baton answered {what} with HTTP {result.status}: "
                f"{result.body[:300]}"
            )
        self._spoke = True

    async def _current(self, timeout: float) -> Reply:
        if self._spoke or not self.replies:
            return await self._read(timeout, None)
        return self.replies[-1]

    async def _read(self, timeout: float, expected: str | re.Pattern[str] | None) -> Reply:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        recipient = self._kit.recipient(self.customer)
        calls: list[Call] = []

        async def take() -> None:
            try:
                calls.append(await self._mailbox.next(recipient, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(self._nothing(timeout, expected, calls)) from None

        await take()
        while len(calls) < self._kit.parts(calls[0]):
            await take()
        reply = self._reply(calls)
        # A reply split by length: read on while what arrived is the start of what is expected.
        while (
            isinstance(expected, str)
            and not reply.matches(expected)
            and self._continues(reply, expected)
        ):
            await take()
            reply = self._reply(calls)
        self.replies.append(reply)
        self._spoke = False
        return reply

    @staticmethod
    def _continues(reply: Reply, expected: str) -> bool:
        if reply.buttons and reply.buttons[0].kind != "number":
            return False  # buttons come with the last part
        shown = _squash(reply.full_text)
        return len(shown) < len(_squash(expected)) and _squash(expected).startswith(shown)

    def _reply(self, calls: Sequence[Call]) -> Reply:
        texts: list[str] = []
        buttons: tuple[_Button, ...] = ()
        split = len(calls) > 1
        for call in calls:
            shown = self._kit.show(call)
            if shown.text:
                texts.append(shown.text)
            if shown.buttons:
                buttons = shown.buttons
            split = split or shown.split
        full = "\n".join(texts)
        main = full
        if not buttons:
            main, labels = _split_options(full)
            buttons = tuple(
                _Button(label, "number", str(number))
                for number, label in enumerate(labels, start=1)
            )
        labels = tuple(b.label for b in buttons)
        return Reply(main, full, labels, tuple(calls), buttons, split)

    def _check_choices(self, reply: Reply, labels: tuple[str, ...]) -> None:
        if reply.choices != labels:
            raise AssertionError(
                f"{self.channel}: expected the choices {list(labels)} under {reply.text!r}, "
                f"but the customer sees {list(reply.choices)}"
            )

    def _mismatch(self, wanted: str | re.Pattern[str], reply: Reply) -> str:
        got = reply.text
        if isinstance(wanted, re.Pattern):
            return (
                f"{self.channel}: the customer expected a text matching {wanted.pattern!r}\n"
                f"but got {_shorten(reply.full_text)}"
            )
        expected = wanted
        lines = [
            f"{self.channel}: the customer expected {_shorten(expected)}",
            f"but got {_shorten(reply.full_text)}",
        ]
        if max(len(expected), len(got)) > _SHOWN:
            at = next(
                (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
                min(len(expected), len(got)),
            )
            lines.append(
                f"first difference at character {at}: expected "
                f"{expected[max(0, at - 20) : at + 40]!r}, got {got[max(0, at - 20) : at + 40]!r}"
            )
        elif "\n" in expected or "\n" in got:
            diff = difflib.unified_diff(
                expected.splitlines(), got.splitlines(), "expected", "got", lineterm=""
            )
            lines.extend(diff)
        return "\n".join(lines)

    def _nothing(
        self, timeout: float, expected: str | re.Pattern[str] | None, calls: Sequence[Call]
    ) -> str:
        if isinstance(expected, re.Pattern):
            expected = expected.pattern
        wanted = f" ({_shorten(expected)})" if expected is not None else ""
        if calls:
            so_far = self._reply(calls).full_text
            head = f"only part of the reply{wanted} arrived within {timeout} s: {so_far!r}"
        else:
            head = f"no reply{wanted} within {timeout} s"
        seen = [
            f"  {c.method} -> {c.status} to {c.recipient}: {c.text!r}"
            for c in self.emulator.calls()[-10:]
        ]
        return "\n".join(
            [f"{self.channel} customer {self.customer}: {head}.", "Last calls:", *seen]
        )


# --- entry points --------------------------------------------------------------------------------


@asynccontextmanager
async def chat_on(
    channel: str,
    app: App,
    *,
    database_url: str,
    customer: str | None = None,
    name: str = "Ada",
    **settings: object,
) -> AsyncIterator[ChatScript]:
    """Run `app` on one platform channel against its emulator; yield the customer's script.

    The emulator and Baton listen on loopback ports; the adapter is the real one with the
    platform's official SDK, pointed at the emulator. Webhooks are signed as the platform signs
    them (Telegram's secret token, registered with setWebhook; Twilio's signature over Baton's
    URL; Slack's v0 signature).

    Args:
        channel: "telegram", "twilio" or "slack".
        app: The bot to run.
        database_url: Its database, e.g. "sqlite+aiosqlite:///./test.db" (created when empty).
        customer: The customer's platform id; a default per channel (Telegram user 4242,
            +15551230001, Slack user U0CUST001) when None.
        name: The customer's first name, where the platform sends one (Telegram).
        **settings: Other `Settings` fields; retries are fast by default
            (`outbox_base_delay=0.05`).

    Example:
        >>> async with chat_on("slack", app, database_url="sqlite+aiosqlite:///t.db") as chat:
        ...     await chat.send("hi")
        ...     await chat.expect("Hi! What can I do for you?")
    """
    make = _KITS.get(channel)
    if make is None:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    kit = make()
    async with (
        kit.emulator.run() as api_url,
        _serving(
            database_url,
            app,
            lambda base_url: [kit.adapter(api_url, base_url)],
            _TEST_SETTINGS | settings,
        ) as baton,
    ):
        mailbox = _Mailbox(kit.emulator)
        yield ChatScript(kit, baton, mailbox, customer or kit.default_customer, name=name)


@asynccontextmanager
async def chats_on(
    channels: Sequence[str],
    app: App,
    *,
    database_url: str,
    customers: Mapping[str, str] | None = None,
    name: str = "Ada",
    **settings: object,
) -> AsyncIterator[dict[str, ChatScript]]:
    """Like `chat_on`, with several channels on one Baton: the same person (or several)
    writing on Telegram, SMS and Slack. Yields one script per channel.

    Example:
        >>> async with chats_on(["telegram", "twilio"], app, database_url=url) as chats:
        ...     await chats["telegram"].send("hi")
        ...     await chats["twilio"].send("hi")
    """
    kits: dict[str, _Kit] = {}
    for channel in channels:
        make = _KITS.get(channel)
        if make is None:
            raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
        kits[channel] = make()
    async with AsyncExitStack() as stack:
        api_urls = {
            channel: await stack.enter_async_context(kit.emulator.run())
            for channel, kit in kits.items()
        }
        baton = await stack.enter_async_context(
            _serving(
                database_url,
                app,
                lambda base_url: [kit.adapter(api_urls[c], base_url) for c, kit in kits.items()],
                _TEST_SETTINGS | settings,
            )
        )
        yield {
            channel: ChatScript(
                kit,
                baton,
                _Mailbox(kit.emulator),
                (customers or {}).get(channel) or kit.default_customer,
                name=name,
            )
            for channel, kit in kits.items()
        }


def chat_fixture(
    app: App,
    *,
    name: str = "chat",
    database_fixture: str | None = None,
    **settings: object,
) -> Any:
    """A pytest fixture yielding a `ChatScript` for `app`, once per channel.

    Put it in `conftest.py`. A test that asks for `chat` runs on each of the three channels;
    pick some with `@pytest.mark.parametrize("chat", ["telegram", "slack"], indirect=True)`.
    Each test gets a fresh SQLite database, or, with `database_fixture`, the URL that fixture
    yields (so a fixture parametrised over databases runs each chat test on each of them).
    Needs pytest-asyncio.

    With `filterwarnings = ["error"]`, also ignore the twilio SDK's use of a deprecated aiohttp
    API: `"ignore::DeprecationWarning:twilio.*"`.

    Args:
        app: The bot under test.
        name: The fixture's name.
        database_fixture: The name of a fixture yielding a database URL; a fresh SQLite file
            per test when None.
        **settings: Passed to `chat_on`.

    Example:
        >>> # conftest.py
        >>> from bot.testing import chat_fixture
        >>> from shop.bot import app
        >>> chat = chat_fixture(app)
    """
    import pytest_asyncio

    options: dict[str, Any] = dict(settings)

    async def chat(**fixtures: Any) -> AsyncIterator[ChatScript]:
        request: pytest.FixtureRequest = fixtures["request"]
        if database_fixture is None:
            database_url = f"sqlite+aiosqlite:///{fixtures['tmp_path'] / 'chat.db'}"
        else:
            database_url = str(fixtures[database_fixture])
        async with chat_on(
            str(request.param), app, database_url=database_url, **options
        ) as script:
            yield script

    # pytest reads a fixture's dependencies from its signature: name the database fixture.
    needs = ["request", "tmp_path" if database_fixture is None else database_fixture]
    chat.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY) for arg in needs]
    )
    return pytest_asyncio.fixture(chat, name=name, params=list(CHANNELS), ids=list(CHANNELS))
