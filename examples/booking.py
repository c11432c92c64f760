# booking.py
"""A table booking: asks, validates, remembers, runs a side effect once, hands off."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs import App, Choice, Command, Context, Invalid, Keyword, flow
from dialogs.validators import email


@dataclass(frozen=True)
class Booking:
    """What the booking system answers."""

    reference: str
    seats: int


async def book_seats(seats: int, mail: str) -> Booking:
    """Your booking system; `ctx.step` runs it once, never again on replay."""
    return Booking("BK-1042", seats)


def seat_count(text: str) -> int:
    """1 to 8 seats; anything else is asked again with the `Invalid` message."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 8:
        raise Invalid("You can book 1 to 8 seats. How many would you like?")
    return int(text)


@flow(
    triggers=[Command("book"), Keyword("book a table", "reserve")],
    description="Book a table ('book a table')",
)
async def booking(ctx: Context) -> None:
    """Name (remembered), seats (validated), email (validated, remembered), lunch or dinner."""
    name = await ctx.ask("Who is the booking for?", remember="name")
    seats = await ctx.ask(f"How many seats, {name}?", validate=seat_count)
    mail = await ctx.ask(
        "Where should we send the confirmation?", validate=email, remember="email"
    )
    when = await ctx.ask(
        "Lunch or dinner?", choices=[Choice("lunch", "Lunch"), Choice("dinner", "Dinner")]
    )
    result = await ctx.step("book", book_seats, seats, mail)
    if result.seats > 6:
        await ctx.handoff(reason=f"large booking {result.reference}")
        return
    await ctx.say(f"Booked {seats} seats for {when}, reference {result.reference}.")


app = App(flows=[booking])
