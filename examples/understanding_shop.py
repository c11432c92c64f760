"""A shop bot that understands what customers mean: intents as triggers (English and Dutch)
and answers from its help pages.

Run it with `baton run examples.understanding_shop:app` or `baton shell
examples.understanding_shop:app`; docs/guides/understanding.md walks through it.
"""

from __future__ import annotations

from pathlib import Path

# --8<-- [start:import-intents]
from dialogs import App, Choice, Context, Intent, flow

# --8<-- [end:import-intents]
# --8<-- [start:import-knowledge]
from dialogs.knowledge import KnowledgeBase, answers

# --8<-- [end:import-knowledge]

# --8<-- [start:refund]
refund_intent = Intent(
    "refund",
    label="Get a refund",  # how "Did you mean ...?" names it
    examples=[
        "I want a refund",
        "I want my money back",
        "refund please",
        "can I get a refund",
        "how do I get a refund",
        "I would like to be reimbursed",
        "please pay me back",
        "return my money",
        "I was charged twice and want it back",
        "ik wil mijn geld terug",
        "kan ik een terugbetaling krijgen",
        "geld terug alstublieft",
        "ik wil een restitutie",
        # 10 to 20 varied ways of saying it, in each language you serve
    ],
)


@flow(triggers=[refund_intent], title="your refund")
async def refund(ctx: Context) -> None:
    """Ask for the order and the reason, then promise a refund."""
    number = await ctx.ask("I can help with a refund. What's your order number?")
    reason = await ctx.ask(
        "Why would you like a refund?",
        choices=[Choice("damaged", "It arrived damaged"), Choice("late", "It came too late")],
    )
    await ctx.say(f"Thanks. The refund for order {number} ({reason}) is on its way.")


# --8<-- [end:refund]
order_intent = Intent(
    "order_status",
    label="Where is my order",
    examples=[
        "where is my order",
        "my package has not arrived",
        "track my parcel",
        "when will my order be delivered",
        "has my order shipped yet",
        "waar is mijn bestelling",
        "mijn pakket is nog niet aangekomen",
        "wanneer wordt mijn bestelling bezorgd",
    ],
)


@flow(triggers=[order_intent], title="your order")
async def order_status(ctx: Context) -> None:
    """Look up an order."""
    number = await ctx.ask("What's your order number?")
    await ctx.say(f"Order {number} left our warehouse yesterday.")


# --8<-- [start:knowledge]
kb = KnowledgeBase.from_folder(Path(__file__).parent / "knowledge")  # knowledge/*.md
app = App(flows=[refund, order_status], start=answers(kb))  # the fallback, in one line
# --8<-- [end:knowledge]
"""Anything no flow starts on is answered from the help pages (examples/knowledge/)."""
