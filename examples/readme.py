from dialogs import App, Context, Keyword, flow
from dialogs.validators import integer


@flow(triggers=[Keyword("book a table")])
async def book_a_table(ctx: Context) -> None:
    name = await ctx.ask("Who is the booking for?", remember="name")
    seats = await ctx.ask(f"How many seats, {name}?", validate=integer)
    when = await ctx.ask("Lunch or dinner?", choices=["Lunch", "Dinner"])
    if seats > 8:
        await ctx.handoff(reason=f"{seats} seats for {when}")  # a person takes over
        return
    await ctx.say(f"Booked: {seats} seats for {when.lower()}, {name}.")


app = App(flows=[book_a_table])
