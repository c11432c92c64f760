""" "Did you mean ...?": a built-in flow for a message that nearly means one of the app's
intents and starts nothing else.

It is an ordinary flow (journaled, durable, answered by button or by the option's number on
SMS), registered on the app with `App.add` and started by the understanding feature. The
picked intent's flow runs inside it (`ctx.run`), with the customer's original message as its
trigger; "Something else" asks the customer to say it in other words.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.understanding import texts
from dialogs import App, Choice, Context, Flow, flow
from dialogs.intents import Intent, IntentSet, near_miss

__all__ = ["OFFER_FLOW", "offer_flow"]

OFFER_FLOW = "baton_did_you_mean"


def offer_flow(app: App, intents: IntentSet, near: float) -> Flow:
    """The "Did you mean ...?" flow for `app`'s intents."""
    owners: dict[str, Flow] = {}
    for f in app.flows:
        for trigger in f.triggers:
            if isinstance(trigger, Intent):
                owners.setdefault(trigger.name, f)

    def nearly(text: str) -> list[list[str]]:
        return [[i.name, i.label] for i in near_miss(intents, text, near) if i.name in owners]

    finder: Callable[[str], list[list[str]]] = nearly

    @flow(name=OFFER_FLOW, title="this question")
    async def did_you_mean(ctx: Context) -> None:
        said = ctx.trigger.text or ""
        options = await ctx.step("intents nearly meant", finder, said)
        choices = [Choice(name, label) for name, label in options]
        choices.append(Choice(texts.NONE_OF_THESE_CHOICE, texts.NONE_OF_THESE))
        picked = await ctx.ask(texts.DID_YOU_MEAN, choices=choices, key="did_you_mean")
        target = owners.get(picked)
        if target is None:
            await ctx.say(texts.REPHRASE)
            return
        await ctx.run(target)

    return did_you_mean
