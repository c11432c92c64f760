"""The demo bot: what `baton run` and `baton shell` serve when no app is named.

A greeting with choices, an order-status flow, a small FAQ by keyword, and preferences that
are remembered and used later, linking channels ("link my channels"), plus the built-in
interruptions (help, cancel, agent).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs import App, Choice, Command, Context, Invalid, Keyword, flow
from dialogs.builtin import link_channels

__all__ = ["app"]


@dataclass(frozen=True)
class Order:
    """What the (demo) order system knows about an order."""

    number: str
    status: str
    tracking_url: str


def lookup_order(number: str) -> Order:
    """A stand-in for a real order system: the status follows from the number."""
    statuses = ["being packed", "on its way", "delivered", "waiting for payment"]
    status = statuses[int(number) % len(statuses)]
    return Order(number, status, f"https://track.example.com/{number}")


def order_number(text: str) -> str:
    """Eight digits, spaces allowed."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 8 or len(text.strip()) > 20:
        raise Invalid("Order numbers have 8 digits, like 1234 5678.")
    return digits


_FAQ = {
    "hours": "We're open Monday to Friday, 9:00 to 17:30, and Saturday 10:00 to 16:00.",
    "returns": "You can return anything within 30 days. Start a return at "
    "https://shop.example.com/returns and we'll e-mail a label.",
    "shipping": "Orders placed before 22:00 ship the same day; delivery takes 1-2 working days.",
}
_FAQ_WORDS = {
    "hours": ("opening hours", "open", "hours", "openingstijden"),
    "returns": ("return", "returns", "refund", "retour", "terugsturen"),
    "shipping": ("shipping", "delivery", "deliver", "verzending", "bezorging"),
}


@flow(
    triggers=[
        Command("order"),
        Keyword("where is my order", "order status", "my order", "waar is mijn bestelling"),
    ],
    description="Check the status of an order ('where is my order')",
    title="the order check",
)
async def order_status(ctx: Context) -> None:
    """Look up an order and offer tracking or a person."""
    name = await ctx.ask("What's your name?", remember="name")
    number = await ctx.ask(f"Thanks, {name}. What's your order number?", validate=order_number)
    order = await ctx.step("look up order", lookup_order, number)
    wants = await ctx.ask(
        f"Order {order.number} is {order.status}. What would you like?",
        choices=[Choice("track", "Track it"), Choice("agent", "Talk to a person")],
    )
    if wants == "agent":
        when = ctx.memory.get("contact_time")
        if when:
            await ctx.say(f"Noted: you prefer to be contacted in the {when}.")
        await ctx.handoff(reason=f"order {order.number}: customer asked for a person")
        return
    await ctx.say(f"Here is your tracking link: {order.tracking_url}")


@flow(
    triggers=[Keyword(*(w for words in _FAQ_WORDS.values() for w in words))],
    description="Opening hours, returns and shipping",
    title="the questions",
)
async def faq(ctx: Context) -> None:
    """Answer a question found by keyword, or ask which topic."""
    said = (ctx.trigger.text or "").casefold()
    topic = next((t for t, words in _FAQ_WORDS.items() if any(w in said for w in words)), None)
    if topic is None:
        topic = await ctx.ask(
            "What is your question about?",
            choices=[
                Choice("hours", "Opening hours"),
                Choice("returns", "Returns"),
                Choice("shipping", "Shipping"),
            ],
        )
    await ctx.say(_FAQ[topic])


@flow(
    triggers=[
        Command("preferences"),
        Keyword("preferences", "remember my preferences", "voorkeuren"),
    ],
    description="Remember your preferences (language, when to contact you)",
    title="your preferences",
)
async def preferences(ctx: Context) -> None:
    """Ask for preferences once; they are remembered on every channel."""
    for key in ("language", "contact_time"):
        if key in ctx.memory:
            del ctx.memory[key]
    language = await ctx.ask(
        "Which language do you prefer?",
        remember="language",
        choices=[Choice("en", "English"), Choice("nl", "Nederlands")],
    )
    when = await ctx.ask(
        "When may we contact you?",
        remember="contact_time",
        choices=[
            Choice("morning", "Morning"),
            Choice("afternoon", "Afternoon"),
            Choice("evening", "Evening"),
        ],
    )
    if language == "nl":
        await ctx.say(f"Genoteerd! We nemen bij voorkeur contact op in de {_NL[when]}.")
    else:
        await ctx.say(f"Noted! We'll contact you in the {when} when we need to.")


_NL = {"morning": "ochtend", "afternoon": "middag", "evening": "avond"}


@flow(
    triggers=[Command("start"), Keyword("hi", "hello", "hey", "hallo", "menu")], title="the menu"
)
async def greeting(ctx: Context) -> None:
    """Greet the customer (by name, in their language, once known) and offer the choices."""
    name = ctx.memory.get("name")
    dutch = ctx.memory.get("language") == "nl"
    hello = ("Hallo" if dutch else "Hi") + (f" {name}" if name else "")
    question = "Waarmee kan ik je helpen?" if dutch else "What can I help you with?"
    wants = await ctx.ask(
        f"{hello}! I'm the Baton demo bot. {question}",
        key="greeting",
        choices=[
            Choice("order", "Where is my order?"),
            Choice("faq", "A question"),
            Choice("preferences", "My preferences"),
            Choice("agent", "Talk to a person"),
        ],
    )
    if wants == "order":
        await ctx.run(order_status)
    elif wants == "faq":
        await ctx.run(faq)
    elif wants == "preferences":
        await ctx.run(preferences)
    else:
        await ctx.handoff(reason="customer asked for a person from the greeting")


# link_channels: "link my channels" gives a one-time code to send from another channel, so
# Telegram, SMS and Slack become one conversation (the engine also answers plain "link").
app = App(
    flows=[order_status, faq, preferences, link_channels, greeting],
    start=greeting,
    name="Baton demo",
)
