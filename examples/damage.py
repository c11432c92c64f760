# damage.py
"""A damage report: a flow asks the customer for a photo and a location."""

from __future__ import annotations

# --8<-- [start:flow]
from dialogs import App, Context, Location, Photo, allowed, flow
from dialogs.triggers import Keyword


@flow(triggers=[Keyword("damage")])
async def damage(ctx: Context) -> None:
    """A photo of the damage and where the car is."""
    photo = await ctx.ask(
        "Send a photo of the damage",
        expect=Photo,
        validate=allowed(types={"image/jpeg", "image/png"}, max_bytes=5_000_000),
    )
    data = await photo.read()  # the bytes Baton kept
    spot = await ctx.ask("Where is the car?", expect=Location)
    await ctx.say(f"Thanks! {len(data)} bytes, at {spot.latitude}, {spot.longitude}.")


app = App(flows=[damage])
# --8<-- [end:flow]
