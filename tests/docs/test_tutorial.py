"""The tutorial's tests (docs/tutorial.md includes them from here): each runs on Telegram, SMS
and Slack (emulated), on a fresh database, against `examples/tutorial/flows.py`."""

from __future__ import annotations

import re
from pathlib import Path

from bot.scaffold import new_project
from bot.testing import ChatScript

TUTORIAL = Path(__file__).resolve().parents[2] / "examples" / "tutorial" / "flows.py"


# --8<-- [start:order]
async def test_an_order_is_looked_up_and_the_name_remembered(chat: ChatScript) -> None:
    await chat.send("hello")
    await chat.expect(
        "Hi! I'm the shop bot. What can I do for you?",
        choices=["Where is my order?", "Talk to a person"],
    )
    await chat.choose("Where is my order?")
    await chat.expect("What is your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. What is your order number?")
    await chat.send("123")
    await chat.expect("An order number has 5 digits, like 12345. What is yours?")
    await chat.send("12345")
    await chat.expect("Order 12345 is on its way, Ada.")
    await chat.send("where is my order")
    await chat.expect("Thanks, Ada. What is your order number?")


# --8<-- [end:order]
# --8<-- [start:returns]
async def test_a_return_gets_a_label_and_remembers_the_email(chat: ChatScript) -> None:
    await chat.send("I want to return something")
    await chat.expect("What is your name?")
    await chat.send("Ada")
    await chat.expect("Which order would you like to return, Ada?")
    await chat.send("12345")
    await chat.expect(
        "Why are you returning it?",
        choices=["Wrong size", "It arrived damaged", "Changed my mind"],
    )
    await chat.choose("Wrong size")  # a button; "1" typed on SMS
    await chat.expect("Where should we email the return label?")
    await chat.send("ada at example")
    await chat.expect(
        "That doesn't look like an e-mail address. Please try again, like name@example.com."
    )
    await chat.send("ada@example.com")
    await chat.expect("Label RL-12345 is on its way to ada@example.com. Thanks, Ada!")
    # Name and email are remembered: the next return asks only what is new.
    await chat.send("return")
    await chat.expect("Which order would you like to return, Ada?")
    await chat.send("54321")
    await chat.expect("Why are you returning it?")
    await chat.choose("Changed my mind")
    await chat.expect("Label RL-54321 is on its way to ada@example.com. Thanks, Ada!")


# --8<-- [end:returns]
# --8<-- [start:handoff]
async def test_a_damaged_item_goes_to_a_person(chat: ChatScript) -> None:
    await chat.send("return")
    await chat.expect("What is your name?")
    await chat.send("Grace")
    await chat.expect("Which order would you like to return, Grace?")
    await chat.send("54321")
    await chat.expect("Why are you returning it?")
    await chat.choose("It arrived damaged")
    await chat.expect("I'm sorry it arrived damaged. A person from our team will take over.")
    conversation = await chat.conversation()
    assert conversation.status == "waiting"
    assert conversation.handoff_reason == "order 54321 arrived damaged"


# --8<-- [end:handoff]


def _code_lines(text: str, *, drop_sections: tuple[str, ...] = ()) -> list[str]:
    for name in drop_sections:
        text = re.sub(
            rf"# --8<-- \[start:{name}\].*?# --8<-- \[end:{name}\]\n", "", text, flags=re.S
        )
    return [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith("# --8<--") and not line.startswith("app = ")
    ]


def test_the_tutorial_starts_from_what_baton_new_writes(tmp_path: Path) -> None:
    """The tutorial's bot is `baton new shop`'s flows.py with the returns flow added: the
    pages that walk through the scaffold show the code `baton new` really writes."""
    new_project("shop", tmp_path)
    written = (tmp_path / "shop" / "flows.py").read_text()
    tutorial = TUTORIAL.read_text()
    assert _code_lines(tutorial, drop_sections=("returns-import", "returns")) == _code_lines(
        written
    )
    assert 'app = App(flows=[where_is_my_order], start=greeting, name="shop")' in written
    # The test the tutorial shows as "the test `baton new` wrote" is in the written file.
    shown = re.search(
        r"\[start:order\]\n(.*?)\n\n# --8<-- \[end:order\]", Path(__file__).read_text(), re.S
    )
    assert shown is not None
    assert shown.group(1) in (tmp_path / "shop" / "test_flows.py").read_text()
