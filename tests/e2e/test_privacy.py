"""Privacy through the real SDKs and the platform emulators, on SQLite and PostgreSQL: a
customer's data planted on every channel, exported, erased (by an admin, and by the customer
with "forget me"), found nowhere afterwards (tables, the SQLite file and its log, the log
output), a redelivered webhook that brings nothing back, and retention that deletes exactly
what its dry run listed."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import select, text

from adapters.base import Inbound
from adapters.emulators import TelegramEmulator, update_payload
from bot.demo import app as demo_app
from bot.engine import Engine
from bot.engine.builder import EngineBuilder
from bot.engine.pipeline import Slot, Turn
from bot.privacy import Privacy
from bot.testing import ChatScript, chats_on, running_baton
from storage.tables import metadata
from tests.console.support import Browser, add_agent

TG, SMS, SLACK = "telegram", "twilio", "slack"
CODE = re.compile(r"Your linking code is (\d{5}-\d{5})\..*", re.S)

# Unique strings, planted in every place a customer's data goes.
NAME = "Zyxwname"  # the Telegram first name
TG_TEXT = "qqtelegramplant771"
SMS_TEXT = "qqsmsplant772"
SLACK_TEXT = "qqslackplant773"
MEMORY = "Qqmemoryplant774"  # told to the bot, remembered
NOTE = "qqagentnoteplant775"
OTHER = "qqothercustomer776"  # another customer's: must stay


async def customer_of(chat: ChatScript) -> int:
    await chat.baton.engine.idle()
    found = await chat.baton.store.identity(chat.channel, chat.identity)
    assert found is not None
    return found[1]


async def code_of(chat: ChatScript) -> str:
    await chat.send("link")
    for _ in range(5):  # after a link, the open question is asked again first
        found = CODE.search((await chat.next_reply()).text)
        if found is not None:
            return found.group(1)
    raise AssertionError("no linking code")


async def every_row(chat: ChatScript) -> str:
    """Every row of every table, as one text."""

    def read(conn: Any) -> str:
        out: list[str] = []
        for table in metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
        return "\n".join(out)

    return await chat.baton.store._runner.run(read)


def sqlite_files(url: str) -> bytes:
    path = url.split("///", 1)[1]
    data = Path(path).read_bytes()
    if os.path.exists(path + "-wal"):
        data += Path(path + "-wal").read_bytes()
    return data


async def plant(chats: dict[str, ChatScript], browser: Browser) -> tuple[int, str]:
    """Plant the strings on every channel; (customer id, an unused linking code)."""
    tg, sms, slack = chats[TG], chats[SMS], chats[SLACK]
    await tg.send(f"hello {TG_TEXT}")
    await tg.next_reply()
    await tg.send("where is my order")
    await tg.expect("What's your name?")
    await tg.send(MEMORY)
    await tg.expect(f"Thanks, {MEMORY}. What's your order number?")
    await sms.send(await code_of(tg))
    await sms.expect(re.compile("Linked!.*", re.S))
    await slack.send(await code_of(sms))
    await slack.expect(re.compile("Linked!.*", re.S))
    await sms.send(f"it is {SMS_TEXT}")
    await slack.send(f"and {SLACK_TEXT}")
    unused = await code_of(slack)
    await slack.baton.engine.idle()
    customer_id = await customer_of(tg)
    assert await customer_of(sms) == customer_id == await customer_of(slack)
    conversation = await tg.baton.store.conversation(customer_id)
    status, _ = await browser.post(
        f"/api/conversations/{conversation['id']}/notes", {"text": f"said {NOTE}"}
    )
    assert status == 201
    status, _ = await browser.get(f"/api/conversations/{conversation['id']}")
    assert status == 200
    return customer_id, unused


async def test_an_erased_customer_leaves_nothing_behind(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with chats_on([TG, SMS, SLACK], demo_app, database_url=database_url, name=NAME) as chats:
        tg = chats[TG]
        baton = tg.baton
        await add_agent(baton, "root@example.com", "Root", "admin")
        other = tg.with_customer("5151", name="Bob")
        await other.send(f"hello {OTHER}")
        await other.next_reply()
        async with Browser(baton) as browser:
            assert (await browser.login("root@example.com"))[0] == 200
            # A Telegram update we can deliver again later, exactly as Telegram redelivers.
            emulator = tg.emulator
            assert isinstance(emulator, TelegramEmulator)
            update = update_payload(
                emulator.next_update_id(),
                user_id=4242,
                text=f"again {TG_TEXT}",
                first_name=NAME,
            )
            assert (await emulator.deliver(None, None, update)).status == 200
            await tg.next_reply()
            customer_id, unused = await plant(chats, browser)
            planted = [NAME, TG_TEXT, SMS_TEXT, SLACK_TEXT, MEMORY, NOTE, unused]

            before = await every_row(tg)
            assert all(p in before for p in planted)

            # Export (admin): every planted string, JSON and an escaped HTML page.
            status, exported = await browser.get(f"/api/customers/{customer_id}/export")
            assert status == 200
            dumped = repr(exported)
            assert [p for p in planted if p not in dumped] == []
            sections = exported["sections"]
            assert {m["channel"] for m in sections["messages"]} == {TG, SMS, SLACK}
            assert [n["text"] for n in sections["agent_notes"]] == [f"said {NOTE}"]

            # Erase (admin).
            status, erased = await browser.post(f"/api/customers/{customer_id}/erase")
            assert status == 200
            assert erased["customers"][0] == customer_id
            await baton.engine.idle()
            rows = await every_row(tg)
            assert [p for p in planted if p in rows] == []
            assert OTHER in rows  # another customer's data is intact
            if database_url.startswith("sqlite"):
                files = sqlite_files(database_url)
                assert [p for p in planted if p.encode() in files] == []
                assert OTHER.encode() in files

            # The audit trail has the export and the erasure, by whom and from where.
            status, audit = await browser.get(f"/api/audit?customer_id={customer_id}")
            actions = [e["action"] for e in audit["items"]]
            assert {"read", "export", "erase"} <= set(actions)
            assert {e["ip"] for e in audit["items"] if e["action"] == "erase"} == {"127.0.0.1"}

            # A redelivered webhook: a new, empty customer; nothing of the text comes back.
            assert (await emulator.deliver(None, None, update)).status == 200
            await baton.engine.idle()
            new_id = await customer_of(tg)
            assert new_id != customer_id
            new = await browser.get(f"/api/customers/{new_id}/export")
            assert new[1]["sections"]["messages"] == []
            assert new[1]["sections"]["profile"][0]["memory"] == {}
            rows = await every_row(tg)
            print([line for line in rows.splitlines() if TG_TEXT in line or NAME in line])
            assert [p for p in planted if p in rows] == []

    logged = caplog.text
    assert [p for p in planted if p in logged] == []


async def test_the_customer_erases_themselves_with_forget_me(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url, name=NAME) as chats:
        tg, sms = chats[TG], chats[SMS]
        await tg.send("where is my order")
        await tg.expect("What's your name?")
        await tg.send(MEMORY)
        await tg.expect(f"Thanks, {MEMORY}. What's your order number?")
        await sms.send(await code_of(tg))
        await sms.expect(re.compile("Linked!.*", re.S))
        await sms.expect(f"Thanks, {MEMORY}. What's your order number?")
        first = await customer_of(sms)
        await sms.send("vergeet mij")
        await sms.expect(re.compile("Do you want us to erase everything.*", re.S))
        await sms.send("2")  # numbered options on SMS: "No, keep my data"
        await sms.expect("OK, nothing was erased.")
        await sms.send("Forget me!")
        await sms.expect(re.compile("Do you want us to erase everything.*", re.S))
        await sms.send("1")
        await sms.expect("Done: we erased your data. If you write again, we start from scratch.")
        await tg.baton.engine.idle()
        rows = await every_row(tg)
        assert MEMORY not in rows
        assert await tg.baton.store.identity(TG, tg.identity) is None
        # The flow that was waiting for an order number is gone with them: a fresh start.
        await tg.send("12345678")
        await tg.next_reply()
        assert await customer_of(tg) != first


async def test_send_me_my_data_gives_a_one_time_link(database_url: str) -> None:
    async with chats_on([TG], demo_app, database_url=database_url, name=NAME) as chats:
        tg = chats[TG]
        tg.baton.engine.feature(Privacy).public_url = tg.baton.base_url
        await tg.send(f"hello {TG_TEXT} <b>bold</b>")
        await tg.next_reply()
        await tg.send("send me my data")
        reply = await tg.expect(re.compile(r"Here is a link to your data.*", re.S))
        url = re.search(r"http://\S+", reply.text)
        assert url is not None
        async with ClientSession() as http:
            async with http.get(url.group(0)) as page:  # a link preview: uses nothing up
                assert page.status == 200
                assert "Show my data" in await page.text()
            async with http.post(url.group(0), data={"format": "html"}) as page:
                body = await page.text()
                assert page.status == 200
                assert TG_TEXT in body
                assert "<b>bold</b>" not in body
                assert "&lt;b&gt;bold&lt;/b&gt;" in body
            async with http.post(url.group(0), data={"format": "json"}) as again:
                assert again.status == 410  # one time only


async def test_stop_marketing_withdraws_the_consent(database_url: str) -> None:
    async with chats_on([SMS], demo_app, database_url=database_url) as chats:
        sms = chats[SMS]
        await sms.send("hi")
        await sms.next_reply()
        customer_id = await customer_of(sms)
        from storage.consents import Consents

        consents = Consents(sms.baton.store)
        await consents.record(customer_id, "marketing", granted=True, source="import")
        assert await consents.allows(customer_id, "marketing")
        await sms.send("geen reclame meer")
        await sms.expect("Done: no more marketing messages. You can change your mind any time.")
        assert not await consents.allows(customer_id, "marketing")
        newest = (await consents.history(customer_id))[-1]
        assert (newest.source, newest.channel, newest.text) == (
            "customer",
            SMS,
            "geen reclame meer",
        )


async def test_retention_deletes_exactly_what_its_dry_run_listed(database_url: str) -> None:
    async with chats_on([TG], demo_app, database_url=database_url) as chats:
        tg = chats[TG]
        for n in range(3):
            await tg.send(f"message {n}")
            await tg.next_reply()
        await tg.baton.engine.idle()
        store = tg.baton.store
        await store._runner.run(
            lambda conn: conn.execute(
                text("UPDATE messages SET created_at = created_at - 800 * 86400 WHERE id <= 2")
            )
        )
        from storage.privacy import PrivacyStore

        db = PrivacyStore(store)
        days = {"messages": 730.0, "inbox": 30.0}
        import time

        now = time.time()
        listed = await db.retention_plan(days, now=now)
        assert listed["messages"] == [1, 2]
        done = await db.retention_run(days, now=now)
        assert done is not None
        assert done[0] == listed
        assert done[1]["messages"] == 2
        left = await store._runner.run(
            lambda conn: [r[0] for r in conn.execute(text("SELECT id FROM messages ORDER BY id"))]
        )
        assert left[:1] != [1]
        assert 2 not in left
        assert len(left) >= 4
        # Once per period across processes: a second run within the period is not this one's.
        assert await db.retention_run(days, now=now + 1, every=3600) is None


class HoldTurn:
    """Pauses the turn of a message containing `word` before the flows run (a test feature)."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def install(self, builder: EngineBuilder) -> None:
        builder.stage(Slot.INTERCEPT, self.hold)

    async def start(self, engine: Engine) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def hold(self, turn: Turn) -> None:
        if self.word in (turn.inbound.text or ""):
            self.reached.set()
            await self.release.wait()


async def test_a_turn_running_while_its_customer_is_erased_commits_nothing(
    sqlite_url: str,
) -> None:
    held = HoldTurn("qqracing")
    async with running_baton(sqlite_url, demo_app, features=[held]) as baton:
        await baton.engine.receive([Inbound("web", "m1", "c1", text="hi")])
        await baton.engine.idle()
        found = await baton.store.identity("web", "c1")
        assert found is not None
        customer_id = found[1]
        await add_agent(baton, "root@example.com", "Root", "admin")
        async with Browser(baton) as browser:
            await browser.login("root@example.com")
            await baton.engine.receive([Inbound("web", "m2", "c1", text="qqracing 123")])
            async with asyncio.timeout(30):
                await held.reached.wait()
            status, _ = await browser.post(f"/api/customers/{customer_id}/erase")
            assert status == 200
            held.release.set()
            await baton.engine.idle()

        def read(conn: Any) -> str:
            return "\n".join(
                repr(tuple(row)) for t in metadata.sorted_tables for row in conn.execute(select(t))
            )

        rows = await baton.store._runner.run(read)
        assert "qqracing" not in rows
