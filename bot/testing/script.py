"""The scripted conversation: one customer chatting with a running Baton through a platform
emulator, step by step (`send`, `expect`, `choose`, ...), each step an assertion."""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Sequence

from adapters.emulators import (
    Button,
    Call,
    CustomerView,
    Emulator,
    Shown,
    WebhookResult,
    numbered_options,
)
from bot.testing.mailbox import Mailbox
from bot.testing.reply import Conversation, Reply, shorten, squash
from bot.testing.server import Running

__all__ = ["ChatScript"]

_TIMEOUT = 10.0
_SHOWN = 300  # characters of a text compared in full in a failure message


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
        view: CustomerView,
        baton: Running,
        mailbox: Mailbox,
        customer: str,
        *,
        name: str = "Ada",
    ) -> None:
        self._view = view
        self._mailbox = mailbox
        self.baton = baton
        """The running Baton (`store`, `engine`, `url(path)`)."""
        self.channel: str = view.channel
        """"telegram", "twilio" or "slack"."""
        self.customer = customer
        """The customer on the platform: Telegram user id, phone number or Slack user id."""
        self.identity = view.identity(customer)
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
        return self._view.emulator

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
        return ChatScript(self._view, self.baton, self._mailbox, customer, name=name)

    async def send(self, text: str) -> WebhookResult:
        """The customer sends `text`: a signed webhook in the platform's format.

        Returns what Baton answered the platform.

        Raises:
            AssertionError: Baton did not accept the webhook (not a 2xx).
        """
        result = await self._view.say(self.baton.base_url, self.customer, text, name=self.name)
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
        try:
            result = await self._view.press(
                self.baton.base_url, self.customer, button, name=self.name
            )
        except ValueError as exc:
            raise AssertionError(str(exc)) from None
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
        recipient = self._view.recipient(self.customer)
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
        recipient = self._view.recipient(self.customer)
        calls: list[Call] = []

        async def take() -> None:
            try:
                calls.append(await self._mailbox.next(recipient, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(self._nothing(timeout, expected, calls)) from None

        await take()
        while len(calls) < self._shown(calls[0]).parts:
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
        shown = squash(reply.full_text)
        return len(shown) < len(squash(expected)) and squash(expected).startswith(shown)

    def _reply(self, calls: Sequence[Call]) -> Reply:
        texts: list[str] = []
        buttons: tuple[Button, ...] = ()
        split = len(calls) > 1
        for call in calls:
            shown = self._shown(call)
            if shown.text:
                texts.append(shown.text)
            if shown.buttons:
                buttons = shown.buttons
            split = split or shown.split
        full = "\n".join(texts)
        main = full
        if not buttons:
            main, buttons = numbered_options(full)
        labels = tuple(b.label for b in buttons)
        return Reply(main, full, labels, tuple(calls), buttons, split)

    def _shown(self, call: Call) -> Shown:
        shown = self._view.shown(call)
        assert shown is not None, f"{call.method} is not a message to the customer"
        return shown

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
                f"but got {shorten(reply.full_text)}"
            )
        expected = wanted
        lines = [
            f"{self.channel}: the customer expected {shorten(expected)}",
            f"but got {shorten(reply.full_text)}",
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
        wanted = f" ({shorten(expected)})" if expected is not None else ""
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
