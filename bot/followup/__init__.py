"""Follow-up: what happens after and between conversations.

- Turns without a customer message (`bot.followup.stages`, `bot.followup.scheduler`): a
  flow's durable timer (`ctx.sleep`, `ctx.wait_until`) wakes it, `Engine.start_flow` starts a
  flow for a customer, an event starts a flow with an `Event` trigger; each runs in the
  customer's line, once, committed like a message.
- Durable events for app code (`bot.followup.events`): Python listeners (`Listeners`),
  flows and signed webhooks (`bot.followup.webhooks`), retried with back-off, with a delivery
  log.
- Surveys (`bot.followup.surveys`): CSAT, CES, NPS after a resolution.

The guide is docs/guides/follow-up.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.engine.pipeline import Slot
from bot.engine.signals import ConversationChanged, TurnCommitted, WorkScheduled
from bot.followup.events import Dispatcher, EventRecord, Listener, Listeners
from bot.followup.scheduler import Scheduler
from bot.followup.stages import FollowupStages
from bot.followup.surveys import SURVEY_FLOW, SurveyConfig, Surveys, survey
from bot.followup.webhooks import SIGNATURE_HEADER, sign, verify
from storage import FollowupStore

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder
    from bot.settings import Settings

__all__ = [
    "SIGNATURE_HEADER",
    "SURVEY_FLOW",
    "EventRecord",
    "Followup",
    "FollowupConfig",
    "Listener",
    "Listeners",
    "SurveyConfig",
    "sign",
    "verify",
]


@dataclass(frozen=True, slots=True)
class FollowupConfig:
    """How follow-up runs (from the settings)."""

    poll: float = 1.0
    """Seconds between looks for due work and events (also woken at once in-process)."""
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str | None = None
    webhook_events: tuple[str, ...] = ("*",)
    event_max_attempts: int = 10
    event_base_delay: float = 5.0
    event_max_delay: float = 3600.0
    surveys: SurveyConfig = field(default_factory=SurveyConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> FollowupConfig:
        """The configuration of `BATON_FOLLOWUP_*`, `BATON_WEBHOOK_*`, `BATON_EVENT_*` and
        `BATON_SURVEY_*`."""
        return cls(
            poll=settings.followup_poll_seconds,
            webhook_urls=tuple(settings.webhook_urls),
            webhook_secret=settings.webhook_secret,
            webhook_events=tuple(settings.webhook_events),
            event_max_attempts=settings.event_max_attempts,
            event_base_delay=settings.event_base_delay,
            event_max_delay=settings.event_max_delay,
            surveys=SurveyConfig.from_settings(settings),
        )


class Followup:
    """The follow-up feature (installed by default; see the module docstring)."""

    def __init__(self, config: FollowupConfig | None = None) -> None:
        self.config = config or FollowupConfig()
        self.store: FollowupStore | None = None
        self.scheduler: Scheduler | None = None
        self.dispatcher: Dispatcher | None = None
        self.surveys = Surveys(self.config.surveys)
        self._stages: FollowupStages | None = None

    def install(self, builder: EngineBuilder) -> None:
        """Register the stages, the survey flow and the nudges."""
        config = self.config
        store = self.store = FollowupStore(builder.store)
        core = builder.core
        self._stages = stages = FollowupStages(store, core)
        self.scheduler = Scheduler(store, poll=config.poll)
        self.dispatcher = Dispatcher(
            store,
            poll=config.poll,
            base_delay=config.event_base_delay,
            max_delay=config.event_max_delay,
            max_attempts=config.event_max_attempts,
            webhook_secret=config.webhook_secret,
        )
        if config.surveys.after != "none":
            builder.app.add(survey)  # an App's own flow of that name wins
        builder.stage(Slot.CONTROL, stages.control)
        builder.stage(Slot.REPLAY, stages.replay)
        builder.stage(Slot.COMPOSE, stages.compose)
        builder.on(WorkScheduled, self._scheduled)
        builder.on(TurnCommitted, self._committed)
        builder.on(ConversationChanged, self._changed)

    def _scheduled(self, _: WorkScheduled) -> None:
        if self.scheduler is not None:
            self.scheduler.nudge()

    def _committed(self, signal: TurnCommitted) -> None:
        stages, dispatcher = self._stages, self.dispatcher
        if (
            stages is not None
            and dispatcher is not None
            and signal.customer_id in stages.committing
        ):
            stages.committing.discard(signal.customer_id)
            dispatcher.nudge()
        if self.scheduler is not None and signal.after != signal.before:
            self.scheduler.nudge()  # a deferred wake-up may be due again sooner

    def _changed(self, _: ConversationChanged) -> None:
        if self.dispatcher is not None:
            self.dispatcher.nudge()

    async def start(self, engine: Engine) -> None:
        """Start the scheduler and the event dispatcher with every target."""
        assert self.store is not None
        assert self.scheduler is not None
        dispatcher = self.dispatcher
        assert dispatcher is not None
        config = self.config
        self.surveys.bind(engine, self.store)
        if self.surveys.wants("conversation.resolved") or self.surveys.wants("flow.completed"):
            dispatcher.add_listener_where("baton.surveys", self.surveys.wants, self.surveys.start)
        dispatcher.add_listener("baton.survey_answers", "survey.answered", self.surveys.record)
        for feature in engine.features:
            if isinstance(feature, Listeners):
                for name, (pattern, fn) in feature.listeners.items():
                    dispatcher.add_listener(name, pattern, fn)
        for url in config.webhook_urls:
            dispatcher.add_webhook(url, config.webhook_events)
        dispatcher.add_flows(engine)
        if self._stages is not None:
            self._stages.record_completed = any(
                t.accepts("flow.completed") for t in dispatcher.targets.values()
            )
        self.scheduler.start(engine)
        dispatcher.start(self.scheduler.nudge)

    async def stop(self) -> None:
        """Stop the background work (what is pending stays in the database)."""
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()

    async def busy(self) -> bool:
        """Whether events wait to be routed or deliveries are due now."""
        assert self.store is not None
        assert self.dispatcher is not None
        return await self.store.pending_work(list(self.dispatcher.targets))

    async def tick(self) -> None:
        """Do now what is due now (tests, after moving the clock): events and work."""
        assert self.scheduler is not None
        assert self.dispatcher is not None
        await self.dispatcher.run_once()
        await self.scheduler.tick()
