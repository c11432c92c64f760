"""The one place an engine is put together, the same for `baton run`, `baton shell` and the
test kit: storage, the bot, the channels, and the features every Baton has (linking, handoff,
understanding, the media intake, follow-up and privacy; the LLM summary at handoff when an
LLM is set) followed by those the caller adds (the console, an app's own). An `Understanding`
the caller passes replaces the default one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.base import Adapter
from bot.engine import Engine
from bot.engine.builder import EngineBuilder, Feature
from bot.followup import Followup, FollowupConfig
from bot.handoff import HandoffConfig, Handoffs
from bot.linking import Linking
from bot.llm_summary import LLMSummary
from bot.media import MediaConfig, MediaIntake
from bot.privacy import Privacy
from bot.proactive import Proactive, ProactiveConfig
from bot.settings import Settings
from bot.understanding import Understanding, llm_from_settings
from dialogs import App
from storage import Store

__all__ = ["build_engine", "default_features"]


def default_features(settings: Settings, *, platforms: bool = True) -> list[Feature]:
    """The features every Baton has, in the order they are installed. Without `platforms`
    (`baton shell`) the queue is not watched, retention does not run, campaigns are not driven
    and no LLM summaries are made: that is the work of the process serving the platform
    channels."""
    features: list[Feature] = [
        Linking(),
        Handoffs(HandoffConfig.from_settings(settings), queue_ticker=platforms),
        Understanding(),
        MediaIntake(MediaConfig.from_settings(settings)),
        Followup(FollowupConfig.from_settings(settings)),
        Privacy.from_settings(settings, scheduled=platforms),
        Proactive(ProactiveConfig.from_settings(settings), campaigns=platforms),
    ]
    llm = llm_from_settings(settings)
    if llm is not None and platforms:
        # The agent's LLM summary at handoff, made by the process serving the platforms.
        features.append(LLMSummary(llm))
    return features


def build_engine(
    settings: Settings,
    store: Store,
    app: App,
    adapters: Mapping[str, Adapter],
    *,
    features: Sequence[Feature] = (),
    send_adapters: Mapping[str, Adapter] | None = None,
    platforms: bool = True,
) -> Engine:
    """Build the engine with the default features and `features` after them; `platforms`
    False for an engine that serves only a local channel (`baton shell`)."""
    builder = EngineBuilder(
        store,
        app,
        adapters,
        send_adapters=send_adapters,
        outbox_max_attempts=settings.outbox_max_attempts,
        outbox_base_delay=settings.outbox_base_delay,
        outbox_max_delay=settings.outbox_max_delay,
        question_expiry_hours=settings.question_expiry_hours,
    )
    defaults = default_features(settings, platforms=platforms)
    if any(isinstance(f, Understanding) for f in features):
        defaults = [f for f in defaults if not isinstance(f, Understanding)]
    return builder.build([*defaults, *features])
