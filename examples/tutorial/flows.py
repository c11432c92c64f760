# flows.py
"""The shop bot: it greets, asks, checks the answers, remembers the name, and
hands the conversation to a person when it cannot help.

Try it: `baton shell`; test it: `pytest`."""

from __future__ import annotations

from dialogs import App, Choice, Context, Invalid, Keyword, flow

# --8<-- [start:returns-import]
from dialogs.validators import email

# --8<-- [end:returns-import]


# --8<-- [start:validate]
def order_number(text: str) -> str:
    """Five digits, like 12345: the answer is asked again until it is one."""
    digits = text.strip().removeprefix("#")
    if not (digits.isdigit() and len(digits) == 5):
        raise Invalid("An order number has 5 digits, like 12345. What is yours?")
    return digits


# --8<-- [end:validate]
# --8<-- [start:step]
def look_up(number: str) -> str | None:
    """Your order system goes here; it runs once per order, never again on replay."""
    return {"12345": "on its way", "54321": "delivered"}.get(number)


# --8<-- [end:step]
# --8<-- [start:order-flow]
@flow(
    triggers=[Keyword("where is my order", "order status", "my order")],
    description="Where is my order ('where is my order')",
)
async def where_is_my_order(ctx: Context) -> None:
    """Ask the name (once: it is remembered) and the order number, then look it up."""
    name = await ctx.ask("What is your name?", remember="name")
    question = f"Thanks, {name}. What is your order number?"
    number = await ctx.ask(question, validate=order_number)
    status = await ctx.step("look up", look_up, number)
    if status is None:
        await ctx.say(f"I can't find order {number}, {name}. Let me find you a person.")
        await ctx.handoff(reason=f"order {number} not found")
        return
    await ctx.say(f"Order {number} is {status}, {name}.")


# --8<-- [end:order-flow]
# --8<-- [start:greeting]
@flow()
async def greeting(ctx: Context) -> None:
    """What the bot says to a message nothing else matches."""
    name = ctx.memory.get("name")
    hello = f"Hi {name}!" if name else "Hi!"
    wants = await ctx.ask(
        f"{hello} I'm the shop bot. What can I do for you?",
        key="greeting",
        choices=[
            Choice("order", "Where is my order?"),
            Choice("person", "Talk to a person"),
        ],
    )
    if wants == "order":
        await ctx.run(where_is_my_order)
    else:
        await ctx.handoff(reason="asked for a person")


# --8<-- [end:greeting]
# --8<-- [start:returns]
REASONS = [
    Choice("size", "Wrong size"),
    Choice("damaged", "It arrived damaged"),
    Choice("mind", "Changed my mind"),
]


def make_return_label(number: str) -> str:
    """Your returns system goes here; like `look_up`, it runs once, never again on replay."""
    return f"RL-{number}"


@flow(
    triggers=[Keyword("return", "send it back")],
    description="Return an item ('return')",
)
async def return_an_item(ctx: Context) -> None:
    """Which order and why; a damaged item goes to a person, with what was collected."""
    name = await ctx.ask("What is your name?", remember="name")
    number = await ctx.ask(f"Which order would you like to return, {name}?", validate=order_number)
    reason = await ctx.ask("Why are you returning it?", choices=REASONS)
    if reason == "damaged":
        await ctx.say("I'm sorry it arrived damaged. A person from our team will take over.")
        await ctx.handoff(reason=f"order {number} arrived damaged")
        return
    address = await ctx.ask(
        "Where should we email the return label?", validate=email, remember="email"
    )
    label = await ctx.step("make label", make_return_label, number)
    await ctx.say(f"Label {label} is on its way to {address}. Thanks, {name}!")


# --8<-- [end:returns]
# --8<-- [start:app]
app = App(flows=[where_is_my_order, return_an_item], start=greeting, name="shop")
# --8<-- [end:app]
