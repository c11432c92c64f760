"""Following up: a flow that checks back two days later, on whatever channel the customer
uses by then, and a flow that starts when an agent resolves a conversation.

Run it with `baton run examples.follow_up:app`. The test kit moves the clock instead of
waiting two days (tests/e2e/test_followup_examples.py).
"""

from __future__ import annotations

from datetime import timedelta

from dialogs import App, Choice, Context, Event, Keyword, flow


@flow(triggers=[Keyword("replacement", "broken")], title="your replacement")
async def replacement(ctx: Context) -> None:
    """Send a replacement, then ask two days later whether it arrived."""
    order = await ctx.ask("Which order is it about?", remember="order")
    await ctx.say(f"We're sending a replacement for order {order}. I'll check back in 2 days.")
    # Durable: survives restarts and deploys; wakes once. Any message in between is
    # handled as usual; `cancel_on_message=True` would end this flow instead.
    await ctx.sleep(timedelta(days=2))
    arrived = await ctx.ask(
        f"Did the replacement for order {order} arrive?",
        choices=[Choice("yes", "Yes"), Choice("no", "Not yet")],
    )
    if arrived == "no":
        await ctx.emit("replacement.missing", {"order": order})  # for listeners and webhooks
        await ctx.handoff(reason=f"replacement for order {order} did not arrive")
        return
    await ctx.say("Great! Enjoy.")


@flow(triggers=[Event("resolved")])
async def resolved_tip(ctx: Context) -> None:
    """Started by the `conversation.resolved` event, in the customer's line."""
    await ctx.say("Tip: say 'replacement' any time something arrives broken.")


app = App(flows=[replacement, resolved_tip])
