"""The privacy guide's code (docs/guides/privacy.md includes it from here), run for real: the
consent flow through the test kit and a platform's emulator, a feature's table declared in the
registry that erasure and export read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing import chat_on

# --8<-- [start:consent-import]
from dialogs import App, Context, Keyword, flow

# --8<-- [end:consent-import]
from storage import personal_data
from storage.consents import Consents


# --8<-- [start:consent]
@flow(triggers=[Keyword("newsletter")])
async def newsletter(ctx: Context) -> None:
    phone = await ctx.ask(
        "What's your phone number?", why="so our courier can call you", remember="phone"
    )
    if await ctx.consent("marketing", why="to tell you about sales first"):
        await ctx.say(f"We'll text {phone} about sales.")


# --8<-- [end:consent]

app = App(flows=[newsletter])


async def test_the_newsletter_flow_asks_why_and_records_the_consent(tmp_path: Path) -> None:
    async with chat_on(
        "telegram", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/p.db"
    ) as chat:
        await chat.send("newsletter")
        await chat.expect("What's your phone number?\n(Why we ask: so our courier can call you)")
        await chat.send("+31 6 1234 5678")
        question = (
            "May we send you marketing messages?\n(Why we ask: to tell you about sales first)"
        )
        await chat.expect(question, choices=["Yes, that's fine", "No, thanks"])
        await chat.choose("Yes, that's fine")
        await chat.expect("Thanks! You can say 'stop marketing' any time.")
        await chat.expect("We'll text +31 6 1234 5678 about sales.")
        customer_id = (await chat.conversation()).customer_id
        [given] = await Consents(chat.baton.store).history(customer_id)
        assert (given.purpose, given.granted, given.source, given.text) == (
            "marketing",
            True,
            "customer",
            question,
        )


def test_a_feature_declares_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(personal_data, "REGISTRY", list(personal_data.REGISTRY))
    # --8<-- [start:declare]
    from storage.personal_data import PersonalTable, declare

    declare(PersonalTable("loyalty_cards", export="loyalty", why="the customer's card and points"))
    # --8<-- [end:declare]
    entry = personal_data.declared("loyalty_cards")
    assert entry is not None
    assert (entry.columns, entry.erase, entry.export) == (("customer_id",), "delete", "loyalty")
    tables = [e.table for e in personal_data.REGISTRY]
    assert tables.index("loyalty_cards") < tables.index("identities")  # erased before them
    with pytest.raises(ValueError, match="already declared"):
        declare(PersonalTable("loyalty_cards"))
