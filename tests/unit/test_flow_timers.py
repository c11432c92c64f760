"""Durable timers, events and wake-ups in the flow runtime, in memory: what a sleeping flow
records, how a wake-up continues it once, what a message does to a sleep, and the errors a
developer gets for a wrong call."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dialogs import App, Context, Event, Keyword, RegistrationError, Wake, flow, run_turn, run_wake
from dialogs.runtime import SLEEPERS_KEY
from storage.records import CustomerState

NOW = 1_800_000_000.0


@flow(triggers=[Keyword("later")])
async def later(ctx: Context) -> None:
    await ctx.say("See you tomorrow.")
    await ctx.sleep(timedelta(days=1))
    await ctx.emit("checked.in", {"day": 2})
    answer = await ctx.ask("How is it going?")
    await ctx.say(f"Noted: {answer}")


@flow(triggers=[Keyword("nudge")])
async def nudge(ctx: Context) -> None:
    await ctx.wait_until(NOW + 60, cancel_on_message=True)
    await ctx.say("Nudge!")


@flow(triggers=[Keyword("naive")])
async def naive(ctx: Context) -> None:
    await ctx.wait_until(datetime(2030, 1, 1))  # noqa: DTZ001 - the mistake under test


@flow(triggers=[Keyword("backwards")])
async def backwards(ctx: Context) -> None:
    await ctx.sleep(-5)


APP = App(flows=[later, nudge, naive, backwards])


def fresh() -> CustomerState:
    return CustomerState(1, 1, "bot", {})


async def test_a_sleeping_flow_leaves_the_active_slot_with_a_timer() -> None:
    out = await run_turn(APP, fresh(), {"text": "later"}, channel="twilio", now=NOW)
    assert [r.text for r in out.replies] == ["See you tomorrow."]
    assert out.active_run_id is None
    [(run_id, _)] = out.new_runs
    assert out.ended_runs == [(run_id, "sleeping")]
    [timer] = out.timers
    assert (timer.run_id, timer.flow, timer.until, timer.cancel_on_message) == (
        run_id,
        "later",
        NOW + 86400,
        False,
    )
    assert [row.kind for _, row in out.journal] == ["start", "say", "sleep"]


async def test_a_wake_up_continues_the_flow_once_and_emits_once() -> None:
    out = await run_turn(APP, fresh(), {"text": "later"}, channel="twilio", now=NOW)
    run_id = out.new_runs[0][0]
    journal = [row for _, row in out.journal]
    timer = out.timers[0]
    woke = await run_wake(
        APP,
        fresh(),
        Wake("wake", run_id=run_id, seq=timer.seq),
        channel="slack",
        now=NOW + 86400,
        run=("later", "sleeping", journal),
    )
    outcome = woke.outcome
    assert [r.text for r in outcome.replies] == ["How is it going?"]
    assert outcome.active_run_id == run_id  # it asks: the customer's flow now
    assert outcome.events == [("checked.in", {"day": 2})]
    full = journal + [row for _, row in outcome.journal]
    assert [row.kind for row in full] == ["start", "say", "sleep", "woke", "emit", "ask"]

    state = CustomerState(1, 1, "bot", {}, run_id)
    state.active_flow, state.journal = "later", full
    answered = await run_turn(APP, state, {"text": "fine"}, channel="slack", now=NOW + 86500)
    assert [r.text for r in answered.replies] == ["Noted: fine"]
    assert answered.events == []  # replayed, not emitted again

    again = await run_wake(
        APP,
        fresh(),
        Wake("wake", run_id=run_id, seq=timer.seq),
        channel="slack",
        now=NOW + 90000,
        run=("later", "done", full),
    )
    assert again.outcome.replies == []  # a second wake-up of an ended run does nothing


async def test_a_message_ends_a_sleep_that_asked_for_it() -> None:
    out = await run_turn(APP, fresh(), {"text": "nudge"}, channel="telegram", now=NOW)
    run_id = out.new_runs[0][0]
    assert out.memory == {SLEEPERS_KEY: {run_id: True}}
    state = CustomerState(1, 1, "bot", dict(out.memory or {}))
    message = await run_turn(APP, state, {"text": "hello?"}, channel="telegram", now=NOW + 5)
    assert message.cancelled_timers == [run_id]
    assert (run_id, "cancelled") in message.ended_runs
    assert SLEEPERS_KEY not in (message.memory or {})


async def test_a_wake_up_while_a_person_holds_the_conversation_waits() -> None:
    state = CustomerState(1, 1, "agent", {})
    woke = await run_wake(APP, state, Wake("start", flow="later"), channel="slack", now=NOW)
    assert woke.deferred
    assert woke.outcome.replies == []


async def test_a_started_flow_that_only_talks_keeps_the_open_question() -> None:
    @flow(name="news")
    async def news(ctx: Context) -> None:
        await ctx.say(f"News for you: {ctx.args['what']}")

    app = App(flows=[later, news])
    asked = await run_turn(app, fresh(), {"text": "later"}, channel="twilio", now=NOW)
    run_id = asked.new_runs[0][0]
    journal = [row for _, row in asked.journal]
    woke = await run_wake(
        app,
        fresh(),
        Wake("wake", run_id=run_id, seq=asked.timers[0].seq),
        channel="twilio",
        now=NOW + 86400,
        run=("later", "sleeping", journal),
    )
    state = CustomerState(1, 1, "bot", {}, run_id)
    state.active_flow = "later"
    state.journal = journal + [row for _, row in woke.outcome.journal]
    started = await run_wake(
        app, state, Wake("start", flow="news", args={"what": "a sale"}), channel="twilio", now=NOW
    )
    assert [r.text for r in started.outcome.replies] == ["News for you: a sale"]
    assert started.outcome.active_run_id == run_id  # "How is it going?" still waits


async def test_wrong_calls_fail_the_flow_with_a_clear_error() -> None:
    out = await run_turn(APP, fresh(), {"text": "naive"}, channel="twilio", now=NOW)
    assert isinstance(out.error, ValueError)
    assert "aware datetime" in str(out.error)
    out = await run_turn(APP, fresh(), {"text": "backwards"}, channel="twilio", now=NOW)
    assert isinstance(out.error, ValueError)


def test_an_event_trigger_needs_an_event_name() -> None:
    with pytest.raises(RegistrationError, match="event name"):
        Event("Resolved!")
    trigger = Event("resolved")
    assert trigger.accepts("conversation.resolved")
    assert trigger.accepts("resolved")
    assert not trigger.accepts("conversation.unresolved")
