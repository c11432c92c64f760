"""The flow API's types: what `ctx.ask` and `ctx.step` return, as mypy sees it and at run time.

mypy checks this module with the rest of the code, so a change that loses a type (an `Any`
where a flow had an `int`) fails CI's type check; pytest runs the same flow, so every
`assert_type` below also executes, on values recorded in the journal and read back from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import assert_type

from dialogs import App, Choice, Command, Context, flow
from dialogs.validators import date, email, integer, number, yes_no
from tests.support.memory_chat import MemoryChat


@dataclass(frozen=True)
class Quote:
    amount: Decimal
    currency: str


def quote(size: int, *, currency: str = "EUR") -> Quote:
    return Quote(Decimal(size) * Decimal("9.95"), currency)


async def stock(size: int) -> int:
    return 40 - size


class Clock:
    """A callable object with an async `__call__`, awaited like a coroutine function."""

    async def __call__(self) -> dt.datetime:
        return dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def nothing() -> None:
    return None


def shoe_size(text: str) -> int:
    return int(text)


results: list[object] = []


@flow(triggers=[Command("types")])
async def typed(ctx: Context) -> None:
    name = assert_type(await ctx.ask("Name?"), str)
    nick = assert_type(await ctx.ask("Nickname?", remember="nick", key="nickname"), str)
    size = assert_type(await ctx.ask("Which size?", choices=["s", Choice("m", "Medium")]), str)
    shoes = assert_type(await ctx.ask("Shoe size?", validate=shoe_size), int)
    count = assert_type(await ctx.ask("How many?", validate=integer), int)
    weight = assert_type(await ctx.ask("Weight?", validate=number), int | float)
    mail = assert_type(await ctx.ask("E-mail?", validate=email), str)
    day = assert_type(await ctx.ask("Which day?", validate=date), dt.date)
    ok = assert_type(await ctx.ask("Sure?", choices=["yes", "no"], validate=yes_no), bool)

    offer = assert_type(await ctx.step("quote", quote, count), Quote)
    in_dollars = assert_type(await ctx.step("quote $", quote, count, currency="USD"), Quote)
    left = assert_type(await ctx.step("stock", stock, shoes), int)
    now = assert_type(await ctx.step("clock", Clock()), dt.datetime)
    assert_type(await ctx.step("nothing", nothing), None)
    await ctx.ask("Anything else?")

    results.clear()
    results.extend(
        [name, nick, size, shoes, count, weight, mail, day, ok, offer, in_dollars, left, now]
    )


async def _never_run(ctx: Context) -> None:
    # What mypy must reject; `warn_unused_ignores` fails the check if it stops rejecting it.
    await ctx.step("quote", quote, "three")  # type: ignore[call-overload]
    await ctx.step("quote", quote, 3, colour="red")  # type: ignore[call-arg, arg-type]
    await ctx.step("stock", stock)  # type: ignore[call-overload]
    shoes: str = await ctx.ask("Shoe size?", validate=shoe_size)  # type: ignore[arg-type]
    size: int = await ctx.ask("Which size?", choices=["s", "m"])  # type: ignore[assignment]
    del shoes, size


async def test_each_form_returns_its_type_when_run_and_when_replayed() -> None:
    chat = MemoryChat(App(flows=[typed]))
    answers = ["Ada", "Ace", "Medium", "42", "3", "2.5", "ada@example.com", "24-12-2026"]
    await chat.send("/types")
    for answer in answers:
        await chat.send(answer)

    assert await chat.send("yes") == ["Anything else?"]
    chat.restart()  # the steps' results come back from the stored journal

    assert await chat.send("no") == []
    assert results == [
        "Ada",
        "Ace",
        "m",
        42,
        3,
        2.5,
        "ada@example.com",
        dt.date(2026, 12, 24),
        True,
        Quote(Decimal("29.85"), "EUR"),
        Quote(Decimal("29.85"), "USD"),
        -2,
        dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC),
    ]
    assert chat.state.memory == {"nick": "Ace"}
