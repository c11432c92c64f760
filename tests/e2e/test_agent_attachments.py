"""An agent's attachment reaches the customer on every channel: uploaded to Telegram
(sendDocument), uploaded to Slack (files_upload_v2), and on SMS as a link Twilio-signed URLs
open (a picture goes as MMS media); the console no longer answers 201 and drops it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from aiohttp import ClientSession

from adapters.emulators import SlackEmulator
from bot.demo import app
from bot.testing import ChatScript, chat_on
from dialogs import Texts
from tests.console.support import Browser, add_agent, customer_ids, handoffs_of
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

PDF = b"%PDF-1.4\n" + b"invoice " * 500 + b"\n%%EOF\n"
GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
TEXTS = Texts()


async def _agent_sends_the_pdf(chat: ChatScript) -> tuple[int, dict[str, object]]:
    """The customer asks for a person; Grace claims the conversation and sends the PDF."""
    await chat.send("hi")
    await chat.expect(GREETING)
    await chat.choose("Talk to a person")
    await chat.expect(TEXTS.human_waiting)
    customer_id = (await chat.conversation()).customer_id
    row = await chat.baton.store.conversation(customer_id)
    grace = await add_agent(chat.baton, "grace@example.com", "Grace")
    await handoffs_of(chat.baton).claim(int(row["id"]), customer_id, grace)
    await chat.read_all()
    async with Browser(chat.baton) as browser:
        await browser.login("grace@example.com")
        conversation = int(row["id"])
        async with browser.http.post(
            chat.baton.url(f"/api/conversations/{conversation}/files?name=invoice.pdf"),
            data=PDF,
            headers=browser.headers() | {"Content-Type": "application/pdf"},
        ) as rsp:
            assert rsp.status == 201
            kept = await rsp.json()
        status, _ = await browser.request(
            "POST",
            f"/api/conversations/{conversation}/messages",
            {"text": "Here is your invoice", "files": [kept["id"]]},
        )
        assert status == 201
        status, history = await browser.get(f"/api/conversations/{conversation}/messages")
        last = history["messages"][-1]
        assert [f["name"] for f in last["files"]] == ["invoice.pdf"]
    await chat.baton.engine.idle()
    return conversation, kept


async def test_an_agents_pdf_is_uploaded_to_telegram(tmp_path: Path) -> None:
    async with chat_on(
        "telegram",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await _agent_sends_the_pdf(chat)
        sent = chat.emulator.calls("sendDocument")
        assert [c.status for c in sent] == [200]
        document = sent[0].params["document"]
        assert document["file_name"] == "invoice.pdf"
        assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert sent[0].params["caption"] == "Here is your invoice"


async def test_an_agents_pdf_is_uploaded_to_slack(tmp_path: Path) -> None:
    async with chat_on(
        "slack",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await _agent_sends_the_pdf(chat)
        slack = chat.emulator
        assert isinstance(slack, SlackEmulator)
        assert "Here is your invoice" in slack.sent_to("U0CUST001")
        [uploaded] = slack.files.values()
        assert (uploaded["name"], uploaded["data"], uploaded["channel"]) == (
            "invoice.pdf",
            PDF,
            "D0CUST001",
        )
        assert [c.ok for c in slack.calls("files.completeUploadExternal")] == [True]


async def test_an_agents_pdf_reaches_sms_as_a_link_only_twilio_signed_urls_open(
    tmp_path: Path,
) -> None:
    async with chat_on(
        "twilio",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await _agent_sends_the_pdf(chat)
        last = chat.emulator.calls("messages.create")[-1]
        text, _, link = last.params["Body"].partition("\ninvoice.pdf: ")
        assert text == "Here is your invoice"
        assert link.startswith(chat.baton.url("/webhooks/twilio/media/"))
        assert "MediaUrl" not in last.params  # a PDF is not MMS media: a link
        async with ClientSession() as http:
            async with http.get(link) as rsp:
                assert (rsp.status, await rsp.read()) == (200, PDF)
            async with http.get(link[:-4] + "0000") as rsp:
                assert rsp.status == 404  # a changed signature opens nothing


async def test_a_channel_that_cannot_carry_files_fails_clearly_and_uploads_are_checked(
    tmp_path: Path,
) -> None:
    async with (
        running_baton(
            f"sqlite+aiosqlite:///{tmp_path}/a.db", app, media_folder=str(tmp_path / "m")
        ) as baton,
        Browser(baton) as grace,
    ):
        chat = WebChat(baton.engine, baton.web, "c1")
        await chat.send("agent")
        await chat.expect(TEXTS.human_waiting)
        customer_id, conversation = await customer_ids(baton, chat)
        await add_agent(baton, "grace@example.com", "Grace")
        await grace.login("grace@example.com")
        assert (await grace.request("POST", f"/api/conversations/{conversation}/claim"))[0] == 200
        upload = f"/api/conversations/{conversation}/files?name=invoice.pdf"
        async with grace.http.post(
            baton.url(upload),
            data=PDF,
            headers=grace.headers() | {"Content-Type": "application/pdf"},
        ) as rsp:
            kept = await rsp.json()
        async with grace.http.post(
            baton.url(upload),
            data=b"MZ",
            headers=grace.headers() | {"Content-Type": "application/x-msdownload"},
        ) as rsp:
            assert rsp.status == 415  # a type not allowed is refused at once
        status, body = await grace.request(
            "POST", f"/api/conversations/{conversation}/messages", {"files": [kept["id"] + 99]}
        )
        assert (status, body["error"]["code"]) == (400, "invalid")  # not this customer's file
        status, _ = await grace.request(
            "POST", f"/api/conversations/{conversation}/messages", {"files": [kept["id"]]}
        )
        assert status == 201
        await baton.engine.idle()
        _, history = await grace.get(f"/api/conversations/{conversation}/messages")
        sent = history["messages"][-1]
        assert sent["delivery_status"] == "failed"
        assert sent["error"].startswith("web cannot carry files (invoice.pdf)")
        assert customer_id > 0
