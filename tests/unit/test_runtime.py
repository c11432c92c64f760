"""The flow runtime without a server or a database: replay, validation, steps, interruptions.

Each test drives `dialogs.run_turn` through `MemoryChat`, which keeps what the engine would
commit, and checks what the customer hears and what the turn leaves for the next one.
"""

from __future__ import annotations

import pytest

from dialogs import HUMAN_CHOICE, App, Choice, Command, Context, Invalid, Keyword, Texts, flow
from tests.support.memory_chat import MemoryChat

TEXTS = Texts()
lookups: list[str] = []


def order_number(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 8:
        raise Invalid("Order numbers have 8 digits, like 1234 5678.")
    return digits


def look_up(number: str) -> str:
    lookups.append(number)
    return "on its way"


@flow(
    triggers=[Command("order"), Keyword("where is my order")],
    description="Where is my order? ('order')",
)
async def order(ctx: Context) -> None:
    name = await ctx.ask("What's your name?", remember="name")
    number = await ctx.ask(f"Thanks, {name}. What's your order number?", validate=order_number)
    status = await ctx.step("look up", look_up, number)
    await ctx.say(f"Order {number} is {status}.")
    wants = await ctx.ask(
        "Anything else?",
        choices=[
            Choice("done", "No, thanks"),
            Choice("agent", "Talk to a person"),
            Choice(HUMAN_CHOICE, "Someone else"),
        ],
    )
    if wants == "agent":
        await ctx.handoff(reason=f"order {number}")
        return
    await ctx.say("Bye!")


@flow(triggers=[Command("boom")])
async def boom(ctx: Context) -> None:
    await ctx.ask("Ready?")
    raise RuntimeError("the order system is down")


APP = App(flows=[order, boom])


@pytest.fixture(autouse=True)
def no_lookups() -> None:
    lookups.clear()


async def at_the_choice(chat: MemoryChat) -> None:
    await chat.send("where is my order")
    await chat.send("Ada")
    assert await chat.send("1234 5678") == ["Order 12345678 is on its way.", "Anything else?"]


async def test_a_flow_waits_at_its_first_unanswered_question() -> None:
    chat = MemoryChat(APP)

    assert await chat.send("where is my order") == ["What's your name?"]
    assert chat.state.active_flow == "order"
    assert chat.question is not None
    assert chat.question.text == "What's your name?"

    assert await chat.send("Ada") == ["Thanks, Ada. What's your order number?"]
    assert chat.state.memory == {"name": "Ada"}


async def test_the_flow_replays_from_its_stored_journal_after_a_restart() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    await chat.send("Ada")
    assert await chat.send("1234 5678") == ["Order 12345678 is on its way.", "Anything else?"]

    chat.restart()

    # Replayed from the journal alone: the name, the number, the step's result and the
    # message already said come back without asking, calling or saying them again.
    assert await chat.send("No, thanks") == ["Bye!"]
    assert lookups == ["12345678"]


async def test_an_invalid_answer_is_asked_again_with_the_validators_message() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    await chat.send("Ada")

    assert await chat.send("12") == ["Order numbers have 8 digits, like 1234 5678."]
    assert chat.question is not None
    assert chat.question.text == "Thanks, Ada. What's your order number?"
    assert chat.outcome.journal == []  # the rejected answer is not journaled

    assert await chat.send("1234 5678") == ["Order 12345678 is on its way.", "Anything else?"]
    assert lookups == ["12345678"]


async def test_a_step_is_not_run_again_on_replay() -> None:
    chat = MemoryChat(APP)
    await at_the_choice(chat)
    await chat.send("help")
    await chat.send("seven")  # matches no option: asked again, the flow replayed once more

    assert lookups == ["12345678"]


async def test_help_in_the_middle_of_a_question_asks_it_again() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    run = chat.state.active_run_id

    replies = await chat.send("help")

    assert replies == [f"{TEXTS.help}\n- Where is my order? ('order')", "What's your name?"]
    assert chat.state.active_run_id == run
    assert await chat.send("Ada") == ["Thanks, Ada. What's your order number?"]


async def test_cancel_in_the_middle_of_a_question_ends_the_flow() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    run = chat.state.active_run_id
    assert run is not None

    assert await chat.send("never mind") == [TEXTS.cancelled]
    assert chat.ended == {run: "cancelled"}
    assert chat.state.active_run_id is None
    assert chat.question is None
    assert await chat.send("Ada") == [TEXTS.not_understood]


async def test_asking_for_a_person_in_the_middle_of_a_question_keeps_it_open() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")

    assert await chat.send("I want to talk to a person") == [TEXTS.human_waiting]
    assert chat.state.status == "waiting"
    assert chat.outcome.handoff_trigger == "customer"
    assert chat.outcome.handoff_reason == "customer asked for a person"

    # Waiting for a person, the customer can still answer the open question.
    assert await chat.send("Ada") == ["Thanks, Ada. What's your order number?"]
    assert chat.state.status == "waiting"


async def test_a_human_option_asks_for_a_person_wherever_it_is_offered() -> None:
    chat = MemoryChat(APP)
    await at_the_choice(chat)
    run = chat.state.active_run_id

    assert await chat.send("3") == [TEXTS.human_waiting]  # "Someone else", typed on SMS
    assert chat.state.status == "waiting"
    assert chat.state.active_run_id == run


async def test_a_flow_hands_the_conversation_to_a_person() -> None:
    chat = MemoryChat(APP)
    await at_the_choice(chat)
    run = chat.state.active_run_id
    assert run is not None

    assert await chat.send(choice="agent") == [TEXTS.human_waiting]
    assert chat.state.status == "waiting"
    assert chat.outcome.handoff_reason == "order 12345678"
    assert chat.outcome.handoff_trigger == "flow"
    assert chat.ended == {run: "done"}


async def test_a_flow_that_ends_leaves_no_active_run() -> None:
    chat = MemoryChat(APP)
    await at_the_choice(chat)
    run = chat.state.active_run_id
    assert run is not None

    assert await chat.send(choice="done") == ["Bye!"]
    assert chat.ended == {run: "done"}
    assert chat.started == {run: "order"}
    assert chat.state.active_run_id is None
    assert chat.state.journal == []
    assert chat.state.status == "bot"
    assert [row.kind for row in chat.rows[run]] == [
        "start",
        "ask",
        "answer",
        "ask",
        "answer",
        "step",
        "say",
        "ask",
        "answer",
        "say",
    ]


async def test_a_remembered_answer_is_not_asked_again() -> None:
    chat = MemoryChat(APP)
    await at_the_choice(chat)
    await chat.send(choice="done")

    assert await chat.send("/order") == ["Thanks, Ada. What's your order number?"]


async def test_a_command_replaces_the_flow_in_progress() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    first = chat.state.active_run_id
    assert first is not None

    assert await chat.send("/order") == ["What's your name?"]
    assert chat.ended == {first: "replaced"}
    assert chat.state.active_run_id not in (None, first)


async def test_not_understood_twice_in_a_row_asks_a_person() -> None:
    chat = MemoryChat(APP)

    assert await chat.send("hello?") == [TEXTS.not_understood]
    assert chat.state.status == "bot"
    assert await chat.send("anyone?") == [TEXTS.not_understood, TEXTS.not_understood_handoff]
    assert chat.state.status == "waiting"
    assert chat.outcome.handoff_trigger == "misunderstood"


async def test_a_flow_that_raises_ends_with_an_apology() -> None:
    chat = MemoryChat(APP)
    await chat.send("/boom")
    run = chat.state.active_run_id
    assert run is not None

    assert await chat.send("yes") == [TEXTS.apology]
    assert chat.ended == {run: "failed"}
    assert isinstance(chat.outcome.error, RuntimeError)
    assert chat.state.active_run_id is None


async def test_a_changed_flow_starts_again_instead_of_replaying_a_stale_journal() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    old = chat.state.active_run_id
    assert old is not None

    @flow(name="order")
    async def reworded(ctx: Context) -> None:
        await ctx.ask("Who are you?")

    chat.app = App(flows=[reworded])

    assert await chat.send("Ada") == [TEXTS.restarted, "Who are you?"]
    assert chat.ended == {old: "restarted"}
    assert chat.state.active_flow == "order"


async def test_while_a_person_holds_the_conversation_the_bot_stays_quiet() -> None:
    chat = MemoryChat(APP)
    await chat.send("where is my order")
    chat.state.status = "agent"  # an agent took the conversation in the console

    assert await chat.send("Ada") == []
    assert chat.outcome.journal == []
    assert await chat.send("back to the bot") == [TEXTS.back_to_bot]
    assert chat.state.status == "bot"
    assert chat.state.active_run_id is None
