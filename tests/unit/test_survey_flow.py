"""The built-in survey flow in memory: CES asks 1-7 with options, NPS a typed 0-10, each kind
becomes one survey.answered event, "skip" skips the comment, a low CES hands off."""

from __future__ import annotations

from bot.followup import texts
from bot.followup.surveys import survey
from dialogs import App, Wake, run_turn, run_wake
from storage.records import CustomerState

APP = App(flows=[])
APP.add(survey)
NOW = 1_800_000_000.0


async def test_ces_and_nps_in_one_survey() -> None:
    args = {"kinds": ["ces", "nps"], "comment": True, "conversation_id": 7, "after": "agent"}
    woke = await run_wake(
        APP,
        CustomerState(1, 1, "bot", {}),
        Wake("start", flow="baton_survey", args=args),
        channel="twilio",
        now=NOW,
    )
    out = woke.outcome
    [question] = out.replies
    assert question.text == texts.QUESTIONS["ces"]
    assert [c.value for c in question.choices] == ["1", "2", "3", "4", "5", "6", "7"]

    state = CustomerState(1, 1, "bot", {}, out.active_run_id)
    state.active_flow, state.journal = out.active_flow, list(out.active_journal)
    for text, expected in (("6", texts.QUESTIONS["nps"]), ("11", None), ("9", texts.COMMENT)):
        turn = await run_turn(APP, state, {"text": text}, channel="twilio", now=NOW)
        if expected is None:
            assert turn.replies[0].text == texts.SCORE_RANGE.format(low=0, high=10)
        else:
            assert turn.replies[-1].text == expected
        state.journal = list(turn.active_journal)
    done = await run_turn(APP, state, {"text": "skip"}, channel="twilio", now=NOW)
    assert [r.text for r in done.replies] == [texts.THANKS]
    assert [
        (name, data["kind"], data["score"], data["comment"]) for name, data in done.events
    ] == [
        ("survey.answered", "ces", 6, None),
        ("survey.answered", "nps", 9, None),
    ]
    assert done.status is None  # no handoff


async def test_a_low_ces_hands_the_conversation_to_a_person() -> None:
    args = {"kinds": ["ces"], "comment": False, "reopen_low": True}
    woke = await run_wake(
        APP,
        CustomerState(1, 1, "bot", {}),
        Wake("start", flow="baton_survey", args=args),
        channel="slack",
        now=NOW,
    )
    state = CustomerState(1, 1, "bot", {}, woke.outcome.active_run_id)
    state.active_flow, state.journal = "baton_survey", list(woke.outcome.active_journal)
    turn = await run_turn(APP, state, {"choice": "2"}, channel="slack", now=NOW)
    assert turn.status == "waiting"
    assert turn.handoff_reason == "low CES score 2/7 in the survey"
