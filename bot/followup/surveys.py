"""Surveys after a conversation: CSAT (1-5), CES (1-7), NPS (0-10).

Which, when and after what is `SurveyConfig` (from the settings). A survey is an ordinary
flow, `baton_survey`, started in the customer's line by `Engine.start_flow` after a
`conversation.resolved` event (an agent resolved it) or a `flow.completed` event (the bot
contained it), right away or after a delay, never sooner than `min_interval` after the
customer's previous survey. An App replaces it by registering its own flow named
`baton_survey` (it gets the same `ctx.args`: kinds, conversation_id, agent_id, flow, after).

The built-in flow asks each kind on the customer's current channel (CSAT and CES with
buttons, numbered options on SMS; NPS as a typed number), then for an optional comment,
emits `survey.answered` per kind (stored in `survey_answers` from that event, once), and
with a low score (`low`) hands the conversation to a person with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.followup import texts
from dialogs import Choice, Context, Invalid, flow
from storage import FollowupStore

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.followup.events import EventRecord
    from bot.settings import Settings

log = logging.getLogger("baton.followup")

__all__ = ["SCALES", "SURVEY_FLOW", "SurveyConfig", "Surveys", "survey"]

SURVEY_FLOW = "baton_survey"
SCALES = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}
"""The score range of each kind."""
LOW = {"csat": 2, "ces": 2, "nps": 6}
"""A score at or below this is low (reopens the conversation when configured)."""


@dataclass(frozen=True, slots=True)
class SurveyConfig:
    """Which surveys, when and after what."""

    kinds: tuple[str, ...] = ("csat",)
    after: str = "none"
    """"agent" (an agent resolved it), "bot" (a flow finished without a person), "both" or
    "none" (no surveys)."""
    delay: float = 0.0
    """Seconds after the resolution."""
    min_interval: float = 30 * 86400.0
    """A customer is surveyed at most once in this many seconds."""
    reopen_low: bool = True
    """A low score hands the conversation to a person with the reason."""
    comment: bool = True
    """Ask for an optional comment after the score."""
    bot_flows: tuple[str, ...] = field(default=())
    """Flows whose completion counts as bot-contained; () means any flow."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SurveyConfig:
        """The survey configuration of `BATON_SURVEY_*`."""
        return cls(
            kinds=tuple(settings.survey_kinds),
            after=settings.survey_after,
            delay=settings.survey_delay_minutes * 60,
            min_interval=settings.survey_min_interval_days * 86400,
            reopen_low=settings.survey_reopen_low,
            comment=settings.survey_comment,
            bot_flows=tuple(settings.survey_bot_flows),
        )


def _score(low: int, high: int) -> Any:
    def check(text: str) -> int:
        cleaned = text.strip().rstrip(".!")
        if cleaned.lstrip("-").isdigit() and low <= int(cleaned) <= high:
            return int(cleaned)
        raise Invalid(texts.SCORE_RANGE.format(low=low, high=high))

    return check


def _comment(text: str) -> str | None:
    cleaned = text.strip()
    if cleaned.casefold().strip(".!") in texts.COMMENT_SKIP_WORDS:
        return None
    return cleaned[:2000]


@flow(name=SURVEY_FLOW, title="the feedback survey")
async def survey(ctx: Context) -> None:
    """The built-in survey (see the module docstring)."""
    args = ctx.args
    kinds = [k for k in args.get("kinds", ["csat"]) if k in SCALES]
    scores: dict[str, int] = {}
    for kind in kinds:
        low, high = SCALES[kind]
        if kind == "nps":  # 0-10: typed, so "3" is never confused with option number 3
            score = await ctx.ask(texts.QUESTIONS[kind], validate=_score(low, high), key=kind)
        else:
            options = [Choice(str(n), str(n)) for n in range(low, high + 1)]
            score = int(await ctx.ask(texts.QUESTIONS[kind], choices=options, key=kind))
        scores[kind] = score
    comment = None
    if args.get("comment", True):
        comment = await ctx.ask(texts.COMMENT, validate=_comment, key="comment")
    for kind, score in scores.items():
        await ctx.emit(
            "survey.answered",
            {
                "kind": kind,
                "score": score,
                "comment": comment,
                "channel": ctx.channel,
                "conversation_id": args.get("conversation_id"),
                "agent_id": args.get("agent_id"),
                "flow": args.get("flow"),
                "after": args.get("after", "agent"),
            },
        )
    low_ones = [k for k, s in scores.items() if s <= LOW[k]]
    if low_ones and args.get("reopen_low", True):
        kind = low_ones[0]
        await ctx.say(texts.LOW_SCORE_REPLY)
        await ctx.handoff(
            reason=texts.LOW_SCORE_REASON.format(
                kind=kind.upper(),
                score=scores[kind],
                high=SCALES[kind][1],
                comment=f': "{comment}"' if comment else "",
            )
        )
        return
    await ctx.say(texts.THANKS)


class Surveys:
    """Starts surveys on events and stores their answers (the listeners of the Followup)."""

    def __init__(self, config: SurveyConfig) -> None:
        self.config = config
        self._engine: Engine | None = None
        self._store: FollowupStore | None = None

    def bind(self, engine: Engine, store: FollowupStore) -> None:
        """Use this engine and store (at start)."""
        self._engine = engine
        self._store = store

    def wants(self, name: str) -> bool:
        """Which events the survey starter reads."""
        after = self.config.after
        if after == "none" or not self.config.kinds:
            return False
        if name == "conversation.resolved":
            return after in ("agent", "both")
        if name == "flow.completed":
            return after in ("bot", "both")
        return False

    async def start(self, event: EventRecord) -> None:
        """Start a survey after this event when the configuration says so."""
        assert self._engine is not None
        assert self._store is not None
        config, data = self.config, event.data
        if event.name == "flow.completed":
            name = str(data.get("flow") or "")
            if name == SURVEY_FLOW or name.startswith("baton_"):
                return
            if config.bot_flows and name not in config.bot_flows:
                return
            after, flow_name = "bot", name
        else:
            after, flow_name = "agent", None
        now = self._engine.core.clock()
        last = await self._store.last_surveyed(event.customer_id)
        if last is not None and now + config.delay - last < config.min_interval:
            log.info("customer %s was surveyed recently; not again", event.customer_id)
            return
        try:
            await self._engine.start_flow(
                event.customer_id,
                SURVEY_FLOW,
                at=now + config.delay,
                key=f"survey:{event.id}",
                kinds=list(config.kinds),
                comment=config.comment,
                reopen_low=config.reopen_low,
                conversation_id=data.get("conversation_id"),
                agent_id=data.get("agent_id"),
                flow=flow_name,
                after=after,
            )
        except LookupError:
            log.warning("customer %s is gone; no survey", event.customer_id)

    async def record(self, event: EventRecord) -> None:
        """Store a survey.answered event as a survey answer (once)."""
        assert self._store is not None
        await self._store.record_survey(event.id, event.customer_id, event.data)


def kinds_of(values: Sequence[str]) -> tuple[str, ...]:
    """Validated survey kinds."""
    for value in values:
        if value not in SCALES:
            raise ValueError(f"unknown survey kind {value!r}: use csat, ces or nps")
    return tuple(values)
