"""An open question's life in the runtime, in memory: it expires, a resolution ends it,
another flow's keyword refused as an answer offers a switch, and a missing `await` in a flow
is named."""

from __future__ import annotations

import inspect
import logging
import warnings

import pytest

from dialogs import App, Choice, Command, Context, Invalid, Keyword, Texts, flow
from dialogs.errors import MissingAwait
from tests.support.memory_chat import MemoryChat

TEXTS = Texts()
T0 = 1_800_000_000.0
HOUR = 3600.0


def order_number(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 8:
        raise Invalid("Order numbers have 8 digits, like 1234 5678.")
    return digits


@flow(triggers=[Command("order"), Keyword("where is my order")], title="your order")
async def order(ctx: Context) -> None:
    number = await ctx.ask("What's your order number?", validate=order_number)
    await ctx.say(f"Order {number} is on its way.")


@flow(triggers=[Keyword("opening hours", "returns")], title="your question")
async def faq(ctx: Context) -> None:
    await ctx.say(f"About {ctx.trigger.text}: we're open 9 to 5.")


@flow(triggers=[Keyword("describe")])
async def complaint(ctx: Context) -> None:
    what = await ctx.ask("What went wrong?")
    await ctx.say(f"Noted: {what}")


@flow(triggers=[Command("start")], title="the menu")
async def greeting(ctx: Context) -> None:
    wants = await ctx.ask(
        "What can I help you with?",
        key="greeting",
        choices=[Choice("order", "Where is my order?"), Choice("agent", "Talk to a person")],
    )
    if wants == "order":
        await ctx.run(order)
    else:
        await ctx.handoff(reason="asked from the greeting")


APP = App(flows=[order, faq, complaint], start=greeting)


# -- expiry -------------------------------------------------------------------------------


async def test_an_open_question_expires_and_the_next_message_starts_fresh() -> None:
    chat = MemoryChat(APP)
    assert await chat.send("hello", now=T0) == ["What can I help you with?"]
    old_run = chat.state.active_run_id

    replies = await chat.send("thanks!", now=T0 + 25 * HOUR)

    assert replies == ["What can I help you with?"]  # the start flow, afresh
    assert chat.ended[old_run or ""] == "expired"
    assert chat.state.active_run_id != old_run
    assert chat.outcome.status is None  # no handoff for "not understood"


async def test_the_expired_message_is_handled_as_new_by_the_triggers() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order", now=T0)
    replies = await chat.send("opening hours", now=T0 + 30 * HOUR)
    assert replies == ["About opening hours: we're open 9 to 5."]
    assert list(chat.ended.values()) == ["expired", "done"]


async def test_before_its_expiry_the_question_is_still_open() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order", now=T0)
    replies = await chat.send("1234 5678", now=T0 + 23 * HOUR)
    assert replies == ["Order 12345678 is on its way."]


async def test_the_app_sets_its_own_expiry_and_zero_never_expires() -> None:
    short = MemoryChat(App(flows=[order], question_expiry_hours=1))
    await short.send("where is my order", now=T0)
    await short.send("hi", now=T0 + 2 * HOUR)
    assert list(short.ended.values()) == ["expired"]

    never = MemoryChat(App(flows=[order], question_expiry_hours=0))
    await never.send("where is my order", now=T0)
    assert await never.send("1234 5678", now=T0 + 1000 * HOUR) == ["Order 12345678 is on its way."]


async def test_the_time_asked_is_journaled_and_survives_a_restart() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order", now=T0)
    assert chat.state.journal[-1].value["at"] == T0
    chat.restart()
    await chat.send("hi", now=T0 + 48 * HOUR)
    assert "expired" in chat.ended.values()


async def test_without_a_time_nothing_expires() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order", now=T0)
    assert await chat.send("1234 5678") == ["Order 12345678 is on its way."]


# -- resolution ---------------------------------------------------------------------------


async def test_a_message_after_a_resolution_starts_fresh() -> None:
    chat = MemoryChat(APP)
    await chat.send("hello", now=T0)
    old_run = chat.state.active_run_id
    chat.state.status = "resolved"  # as an agent's resolution leaves it

    replies = await chat.send("thanks!", now=T0 + 60)

    assert TEXTS.pick_a_choice not in replies
    assert replies == ["What can I help you with?"]
    assert chat.ended[old_run or ""] == "resolved"
    assert chat.outcome.status == "bot"


# -- another flow's trigger while a question waits -----------------------------------------


async def test_a_keyword_refused_as_an_answer_offers_to_switch() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")

    replies = await chat.send("opening hours")

    assert replies == ["Do you want to stop your order and start your question?"]
    assert [c.label for c in chat.outcome.replies[0].choices] == ["Yes", "No"]
    assert chat.state.active_flow == "order"  # nothing ended yet

    assert await chat.send("yes") == ["About opening hours: we're open 9 to 5."]
    assert sorted(chat.ended.values()) == ["done", "replaced"]
    assert chat.state.active_run_id is None


async def test_no_keeps_the_open_question() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    await chat.send("returns")
    assert await chat.send("no") == ["What's your order number?"]
    assert await chat.send("1234 5678") == ["Order 12345678 is on its way."]


async def test_a_pressed_yes_switches_and_a_new_answer_is_taken_as_usual() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    await chat.send("returns")
    choices = chat.outcome.replies[0].choices
    assert await chat.send(choice=choices[0].value) == ["About returns: we're open 9 to 5."]

    await chat.send("where is my order")
    await chat.send("returns")
    # Not yes or no: the offer lapses and the message is an answer again.
    assert await chat.send("1234 5678") == ["Order 12345678 is on its way."]


async def test_the_offer_names_the_sub_flow_that_asks() -> None:
    chat = MemoryChat(APP)
    await chat.send("hello")
    await chat.send("where is my order")  # the greeting's option: runs `order` inside it
    assert await chat.send("opening hours") == [
        "Do you want to stop your order and start your question?"
    ]


async def test_an_offer_is_no_misunderstanding() -> None:
    chat = MemoryChat(APP)
    await chat.send("hello")
    await chat.send("opening hours")
    await chat.send("returns")
    assert chat.state.status == "bot"


async def test_a_free_text_answer_that_contains_a_keyword_is_an_answer() -> None:
    chat = MemoryChat(APP)
    await chat.send("describe")
    assert await chat.send("the returns label was wrong") == ["Noted: the returns label was wrong"]


async def test_a_command_starts_its_flow_at_once() -> None:
    chat = MemoryChat(APP)
    await chat.send("describe")
    assert await chat.send("/order") == ["What's your order number?"]
    assert list(chat.ended.values()) == ["replaced"]


# -- a missing await ------------------------------------------------------------------------


async def fetch_text() -> str:
    return "Your parcel is on its way."


@flow(triggers=[Command("say")])
async def forgets_await_on_say(ctx: Context) -> None:
    await ctx.say(fetch_text())  # type: ignore[arg-type]


@flow(triggers=[Command("ask")])
async def forgets_await_on_ask(ctx: Context) -> None:
    await ctx.ask(fetch_text())  # type: ignore[call-overload]


async def test_a_coroutine_given_to_say_is_named_as_a_missing_await(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = MemoryChat(App(flows=[forgets_await_on_say, forgets_await_on_ask]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail it
        with caplog.at_level(logging.ERROR, logger="baton.flows"):
            replies = await chat.send("/say")
            asked = await chat.send("/ask")

    assert replies == [TEXTS.apology]
    assert asked == [TEXTS.apology]
    assert "coroutine object" not in " ".join(replies + asked)
    error = chat.outcome.error
    assert isinstance(error, MissingAwait)
    assert isinstance(error, TypeError)
    assert str(error).startswith(
        "ctx.ask() got a coroutine: did you forget `await` on fetch_text()?"
    )
    assert list(chat.ended.values()) == ["failed", "failed"]


def test_the_coroutine_is_closed() -> None:
    coroutine = fetch_text()
    error = MissingAwait.given("say", coroutine)
    assert "ctx.say() got a coroutine: did you forget `await` on fetch_text()?" in str(error)
    # Closed: Python will not warn it was never awaited, and it cannot run any more.
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


@flow(triggers=[Command("step")])
async def gives_step_a_coroutine(ctx: Context) -> None:
    await ctx.step("fetch", fetch_text())  # type: ignore[call-overload]


@flow(triggers=[Command("lambda")])
async def steps_a_function_that_returns_a_coroutine(ctx: Context) -> None:
    await ctx.step("fetch", lambda: fetch_text())  # noqa: PLW0108 - the point of the test


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("/step", "ctx.step('fetch') got a coroutine, not a function: pass the function"),
        ("/lambda", "ctx.step('fetch') got a coroutine: did you forget `await` on fetch_text()?"),
    ],
)
async def test_a_coroutine_given_to_step_is_named_too(command: str, message: str) -> None:
    chat = MemoryChat(
        App(flows=[gives_step_a_coroutine, steps_a_function_that_returns_a_coroutine])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert await chat.send(command) == [TEXTS.apology]
    assert isinstance(chat.outcome.error, MissingAwait)
    assert str(chat.outcome.error).startswith(message)
