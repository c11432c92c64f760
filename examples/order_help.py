"""A small complete bot: order help with validation, a side effect, choices and a handoff.

Run it with `baton shell examples.order_help:app` or `baton run examples.order_help:app`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs import App, Choice, Command, Context, Invalid, Keyword, flow


@dataclass(frozen=True)
class Order:
    """An order as the shop's system returns it."""

    status: str
    tracking_url: str


async def lookup_order(number: str) -> Order:
    """Stand-in for the shop's API; a real bot calls its order system here."""
    return Order("on its way", f"https://track.example.com/{number}")


def order_number(text: str) -> str:
    """Eight digits; spaces are fine."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 8:
        raise Invalid("Order numbers have 8 digits, like 1234 5678.")
    return digits


@flow(triggers=[Command("order"), Keyword("where is my order")], description="Where is my order?")
async def order_help(ctx: Context) -> None:
    """Find an order, then track it or hand over to a person."""
    name = await ctx.ask("Hi! What's your name?", remember="name")
    number = await ctx.ask(f"Thanks, {name}. What's your order number?", validate=order_number)
    order = await ctx.step("lookup order", lookup_order, number)
    wants = await ctx.ask(
        f"Order {number} is {order.status}. What would you like?",
        choices=[Choice("track", "Track it"), Choice("agent", "Talk to a person")],
    )
    if wants == "agent":
        await ctx.handoff(reason="customer asked for a person")
        return
    await ctx.say(f"Here is your tracking link: {order.tracking_url}")


app = App(flows=[order_help])
