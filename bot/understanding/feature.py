"""The understanding feature: the app's intents matched together, an app's own classifier
asked once per message, and "Did you mean ...?" for the near misses.

Installed by default (`bot.assembly.default_features`); pass your own to `create_app(...,
features=[Understanding(classifier=...)])` and the default one steps aside.

| where | what |
|---|---|
| `intercept` | an app's `Classifier` is asked; the intents follow its answer |
| `intercept` | a near miss that starts nothing else gets "Did you mean ...?" |
| `compose` | the customer's language kept; Baton's own texts sent in it |
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.engine.pipeline import Next, Slot, Turn
from bot.understanding.languages import speak
from bot.understanding.offer import offer_flow
from dialogs import App, Flow, run_turn
from dialogs.intents import (
    DEFAULT_NEAR,
    Classifier,
    IntentSet,
    MatcherClassifier,
    decided,
    near_miss,
    reset_decided,
)
from dialogs.triggers import Message
from storage.vocabulary import ConversationStatus

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder

log = logging.getLogger("baton.understanding")

__all__ = ["Understanding"]


class Understanding:
    """Intents that compete, an optional classifier, and "Did you mean ...?".

    Example:
        >>> create_app(settings, app, features=[Understanding(classifier=MyModel())])

    Args:
        classifier: asked once per typed message that could start a flow (no question
            open; not a command, a button or an interruption) before the flows run; None:
            the built-in offline matcher, consulted only when a flow's intents are tried.
        near: the confidence from which a message that starts nothing gets "Did you mean
            ...?" (up to each intent's own threshold); 1 turns it off.
    """

    def __init__(
        self, *, classifier: Classifier | None = None, near: float = DEFAULT_NEAR
    ) -> None:
        self.classifier = classifier
        self.near = near
        self.intents: IntentSet | None = None
        self._offer: App | None = None
        self._clock: Callable[[], float] = time.time
        self._expiry: float | None = None

    def install(self, builder: EngineBuilder) -> None:
        """Bind the app's intents into one set; register the classifier, the offer and the
        customer's language."""
        builder.app.languages.loaded()  # a missing or broken catalog fails at start-up
        builder.stage(Slot.COMPOSE, speak)
        self.intents = IntentSet.of(builder.app)
        if not self.intents.intents:
            return
        if self.classifier is not None and not isinstance(self.classifier, MatcherClassifier):
            builder.around(self.scope)
            builder.stage(Slot.INTERCEPT, self.classify)
        if self.near < 1:
            app = builder.app
            offer: Flow = offer_flow(app, self.intents, self.near)
            app.add(offer)  # its runs go on through the app's own replay
            self._offer = App(
                start=offer,
                texts=app.texts,
                interruptions=app.interruptions,
                name=app.name,
                question_expiry_hours=app.question_expiry_hours,
            )
            self._clock = builder.core.clock
            self._expiry = builder.core.question_expiry_hours
            builder.stage(Slot.INTERCEPT, self.did_you_mean)

    async def start(self, engine: Engine) -> None:
        """Build the interruptions' matcher now, not in a customer's first turn."""
        engine.app.interruptions.classify("agent please")

    async def stop(self) -> None:
        """Nothing to stop."""

    async def scope(self, turn: Turn, run: Next) -> None:
        """Keep a classifier's answer to this turn's message within this turn."""
        token = decided("", ())
        try:
            await run()
        finally:
            reset_decided(token)

    async def classify(self, turn: Turn) -> None:
        """Ask the app's classifier about a typed message that could start a flow (no
        question open, not a command, a button or an interruption); the intents follow."""
        text = turn.inbound.text
        if (
            self.classifier is None
            or self.intents is None
            or not turn.flows
            or not text
            or turn.inbound.choice is not None
            or text.startswith("/")
            or turn.state.active_run_id is not None
            or turn.app.interruptions.classify(text) is not None
        ):
            return
        try:
            guesses = await self.classifier.classify(text, list(self.intents.intents))
        except Exception:
            # A classifier that fails leaves the offline matcher to decide; never the turn.
            log.exception("customer %s: the intent classifier failed", turn.customer_id)
            return
        decided(text, guesses)

    async def did_you_mean(self, turn: Turn) -> None:
        """Start "Did you mean ...?" for a message that nearly means an intent and starts
        nothing else (see `bot.understanding.offer`)."""
        inbound = turn.inbound
        text = inbound.text
        state = turn.state
        if (
            not turn.flows
            or self.intents is None
            or self._offer is None
            or not text
            or inbound.choice is not None
            or state.active_run_id is not None
            or state.status != ConversationStatus.BOT
            or turn.app.interruptions.classify(text) is not None
        ):
            return
        message = Message(text)
        if any(t.matches(message) for f in turn.app.flows for t in f.triggers):
            return
        if not near_miss(self.intents, text, self.near):
            return
        outcome = await run_turn(
            self._offer,
            state,
            turn.answer,
            channel=inbound.channel,
            now=self._clock(),
            question_expiry_hours=self._expiry,
        )
        turn.outcome = outcome
        turn.replies.extend(outcome.replies)
        turn.flows = False
