"""The turn pipeline and the engine's signals, without a server or a database: stages run in
slot order whatever order features registered them in, a stage may end the turn or wrap the
rest, and a failing listener never stops the others."""

from __future__ import annotations

import logging

import pytest

from adapters.base import Inbound
from bot.engine.pipeline import Next, Pipeline, Slot, Stage, Turn, Wrapper
from bot.engine.signals import Signals, StrayRows, TurnCommitted
from bot.handoff import involves_people
from bot.linking import channel_name
from dialogs import App
from storage import Accepted


def _turn() -> Turn:
    inbound = Inbound("web", "m1", "c1", text="hi")
    return Turn(Accepted(1, 1, 1, inbound.to_json()), inbound, App())


def _recording(log: list[str], name: str) -> Stage:
    async def stage(turn: Turn) -> None:
        log.append(name)

    stage.__name__ = name
    return stage


async def test_stages_run_in_slot_order_then_registration_order() -> None:
    log: list[str] = []
    pipeline = Pipeline(
        [
            (Slot.COMMIT, _recording(log, "commit")),
            (Slot.INTERCEPT, _recording(log, "link")),
            (Slot.IDENTIFY, _recording(log, "identify")),
            (Slot.INTERCEPT, _recording(log, "consent")),
            (Slot.ROUTE, _recording(log, "route")),
        ]
    )
    await pipeline.run(_turn())
    assert log == ["identify", "link", "consent", "route", "commit"]
    assert [name.split(": ")[0] for name in pipeline.names] == [
        "identify",
        "intercept",
        "intercept",
        "route",
        "commit",
    ]


async def test_wrappers_surround_the_stages_first_registered_outermost() -> None:
    log: list[str] = []

    def wrapper(name: str) -> Wrapper:
        async def wrap(turn: Turn, run: Next) -> None:
            log.append(f"before {name}")
            await run()
            log.append(f"after {name}")

        return wrap

    pipeline = Pipeline(
        [(Slot.REPLAY, _recording(log, "replay"))], [wrapper("timing"), wrapper("log context")]
    )
    await pipeline.run(_turn())
    assert log == [
        "before timing",
        "before log context",
        "replay",
        "after log context",
        "after timing",
    ]


async def test_an_error_in_a_stage_reaches_the_wrappers_and_the_caller() -> None:
    seen: list[str] = []

    async def broken(turn: Turn) -> None:
        raise ValueError("broken stage")

    async def watch(turn: Turn, run: Next) -> None:
        try:
            await run()
        except ValueError as exc:
            seen.append(str(exc))
            raise

    pipeline = Pipeline([(Slot.REPLAY, broken)], [watch])
    with pytest.raises(ValueError, match="broken stage"):
        await pipeline.run(_turn())
    assert seen == ["broken stage"]


async def test_listeners_run_in_order_and_a_failing_one_does_not_stop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signals = Signals()
    heard: list[str] = []

    def failing(signal: TurnCommitted) -> None:
        raise RuntimeError("listener bug")

    signals.on(TurnCommitted, lambda s: heard.append(f"first {s.customer_id}"))
    signals.on(TurnCommitted, failing)
    signals.on(TurnCommitted, lambda s: heard.append(f"third {s.after}"))
    signals.on(StrayRows, lambda s: heard.append("never"))
    with caplog.at_level(logging.ERROR, logger="baton.engine"):
        signals.emit(TurnCommitted(7, "bot", "waiting"))
    assert heard == ["first 7", "third waiting"]
    assert "a listener of TurnCommitted failed" in caplog.text


async def test_a_required_listener_fails_the_emitter_after_the_others_ran() -> None:
    signals = Signals()
    heard: list[str] = []

    def lanes(signal: StrayRows) -> None:
        raise RuntimeError("lanes out of step")

    signals.on(StrayRows, lanes, required=True)
    signals.on(StrayRows, lambda s: heard.append("cache"))
    with pytest.raises(RuntimeError, match="lanes out of step"):
        signals.emit(StrayRows(2, 1))
    assert heard == ["cache"]


async def test_awaited_listeners_run_when_the_signal_is_gathered() -> None:
    signals = Signals()
    heard: list[tuple[int, int]] = []

    async def sweep(signal: StrayRows) -> None:
        heard.append((signal.other, signal.keep))

    signals.on_awaited(StrayRows, sweep)
    signals.emit(StrayRows(2, 1))  # only plain listeners hear an emitted signal
    assert heard == []
    await signals.gather(StrayRows(2, 1))
    assert heard == [(2, 1)]


@pytest.mark.parametrize(
    ("before", "after", "people"),
    [
        ("bot", "bot", False),
        ("resolved", "resolved", False),
        ("bot", "waiting", True),
        ("waiting", "waiting", True),
        ("agent", "agent", True),
        ("agent", "bot", True),
        ("waiting", "bot", True),
        ("resolved", "bot", True),
    ],
)
def test_which_turns_the_handoff_commits_guarded(before: str, after: str, people: bool) -> None:
    assert involves_people(before, after) is people


def test_linking_names_channels_as_customers_call_them() -> None:
    assert channel_name("twilio") == "SMS"
    assert channel_name("telegram") == "Telegram"
    assert channel_name("slack") == "Slack"
    assert channel_name("web") == "the web chat"
    assert channel_name("carrier-pigeon") == "carrier-pigeon"
