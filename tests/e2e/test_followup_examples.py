"""examples/follow_up.py works as its docstrings say, on SMS, with the clock moved on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.followup import EventRecord, Listeners
from bot.testing import chat_on
from dialogs import Texts
from examples.follow_up import app

TEXTS = Texts()


async def test_the_replacement_follow_up_example(tmp_path: Path) -> None:
    missing: list[EventRecord] = []
    listeners = Listeners()

    @listeners.on("replacement.missing")
    async def tell_the_warehouse(event: EventRecord) -> None:
        missing.append(event)

    async with chat_on(
        "twilio",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}",
        features=[listeners],
        survey_after="none",
    ) as chat:
        await chat.send("my mug arrived broken")
        await chat.expect("Which order is it about?")
        await chat.send("1234")
        await chat.expect("We're sending a replacement for order 1234. I'll check back in 2 days.")
        await chat.baton.advance(timedelta(days=2))
        await chat.expect("Did the replacement for order 1234 arrive?", choices=("Yes", "Not yet"))
        await chat.choose("Not yet")
        await chat.expect(TEXTS.human_waiting)
        await chat.baton.settle()
        assert [(e.name, e.data) for e in missing] == [("replacement.missing", {"order": "1234"})]
        assert (await chat.conversation()).handoff_reason == (
            "replacement for order 1234 did not arrive"
        )
