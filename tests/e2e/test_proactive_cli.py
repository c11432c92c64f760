"""`baton send` and `baton campaign` as a user runs them, next to a running Baton on the same
database: the command records and queues, the running Baton sends."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from bot.cli import main
from bot.testing import chat_on
from dialogs import App, Context, Keyword, flow

TOKEN = {"BATON_TELEGRAM_TOKEN": "123456:TEST-token", "BATON_TELEGRAM_SECRET": "x"}


@flow(triggers=[Keyword("hi")])
async def hello(ctx: Context) -> None:
    await ctx.say("Hello!")


APP = App(flows=[hello])


class Commands:
    """`baton ...` run in a thread of this process (as `python -m bot` runs `main`), with the
    environment a user would set; stdout and stderr as the user reads them."""

    def __init__(self, url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
        for key in [k for k in os.environ if k.startswith("BATON_")]:
            monkeypatch.delenv(key)
        for key, value in {**TOKEN, "BATON_DATABASE_URL": url}.items():
            monkeypatch.setenv(key, value)
        self.capsys = capsys

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = self.capsys.readouterr()
        return code, out, err


async def test_baton_send_and_baton_campaign_reach_the_customer_through_a_running_baton(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    baton = Commands(sqlite_url, monkeypatch, capsys)
    async with chat_on("telegram", APP, database_url=sqlite_url) as chat:
        await chat.send("hi")
        await chat.expect("Hello!")
        customer_id = (await chat.conversation()).customer_id
        sent = await baton("send", str(customer_id), "Your parcel shipped.")
        await chat.expect("Your parcel shipped.", timeout=30)
        unknown = await baton("send", "4242", "Hello?")
        empty = await baton("send", str(customer_id), "  ")
        spam = await baton("send", str(customer_id), "Hi", "--purpose", "spam")
        nobody = await baton("campaign", "create", "--text", "Sale", "--customers", "99")
        started = await baton(
            "campaign",
            "create",
            "--text",
            "Spring sale!",
            "--name",
            "spring",
            "--wait",
        )
        await chat.expect("Spring sale!")
        listed = await baton("campaign", "list")
    assert sent[0] == 0
    assert f"to customer {customer_id} queued on telegram" in sent[1]
    assert unknown == (2, "", "baton: no customer 4242\n")
    assert empty[0] == 2
    assert "text must be a non-empty string" in empty[2]
    assert spam[0] == 2
    assert "unknown purpose 'spam'" in spam[2]
    assert nobody == (1, "", "baton: no customer matches this segment: nothing was sent\n")
    assert started[0] == 0
    assert "campaign 1 to 1 customer(s) started" in started[1]
    assert "1/1  sent 1  skipped 0" in started[1].splitlines()[-1]
    assert "spring" in listed[1]
