"""The flow API: write customer conversations as plain async Python.

Example:
    >>> from dialogs import App, Choice, Context, Invalid, flow
    >>> from dialogs.triggers import Command, Keyword
    >>>
    >>> @flow(triggers=[Command("order"), Keyword("where is my order")])
    ... async def order_help(ctx: Context) -> None:
    ...     name = await ctx.ask("What's your name?", remember="name")
    ...     await ctx.say(f"Thanks, {name}!")
    >>>
    >>> app = App(flows=[order_help])

The engine runs a customer's turn with `run_turn`, which returns an `Outcome` to commit (see
`dialogs.runtime`); `pending_prompt` is the question a customer has open.
"""

from __future__ import annotations

from dialogs.context import Answer, Context, Memory
from dialogs.errors import FlowError, Invalid, MissingAwait, RegistrationError, ReplayMismatch
from dialogs.flows import App, Flow, Texts, flow
from dialogs.intents import Classifier, Intent
from dialogs.interruptions import Interruptions
from dialogs.media import Attachment, Contact, Document, Location, Photo, allowed
from dialogs.prompts import Choice, Media, Prompt
from dialogs.runtime import HUMAN_CHOICE, Outcome, Timer, pending_prompt, run_turn
from dialogs.triggers import Button, Command, Event, Keyword, Regex, Trigger
from dialogs.wakes import Wake, WakeOutcome, run_wake

__all__ = [
    "HUMAN_CHOICE",
    "Answer",
    "App",
    "Attachment",
    "Button",
    "Choice",
    "Classifier",
    "Command",
    "Contact",
    "Context",
    "Document",
    "Event",
    "Flow",
    "FlowError",
    "Intent",
    "Interruptions",
    "Invalid",
    "Keyword",
    "Location",
    "Media",
    "Memory",
    "MissingAwait",
    "Outcome",
    "Photo",
    "Prompt",
    "Regex",
    "RegistrationError",
    "ReplayMismatch",
    "Texts",
    "Timer",
    "Trigger",
    "Wake",
    "WakeOutcome",
    "allowed",
    "flow",
    "pending_prompt",
    "run_turn",
    "run_wake",
]
