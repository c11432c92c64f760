"""WhatsApp end to end: the real Baton and demo bot, the real twilio SDK (Messages and Content
APIs) and the Twilio emulator's WhatsApp side, over real HTTP on loopback.

The customer-service window: inside it the customer gets the bot's or agent's message itself;
a day after their last message an agent's reply leaves as the approved template configured for
replies (asserted at the emulator), and with no template it is held with its reason recorded,
never sent into Twilio's 63016 again and again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from aiohttp import ClientSession

from adapters.emulators import Call
from adapters.whatsapp import WhatsAppAdapter
from adapters.whatsapp.emulator import WhatsAppEmulator
from bot.app import ADAPTERS
from bot.demo import app
from bot.media import MediaIntake
from bot.testing import ChatScript, chat_on
from dialogs import Texts
from storage import AgentRow, MediaFiles
from tests.console.support import add_agent, console_of, handoffs_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

GREETING = "Hi! I'm the Baton demo bot. What can I help you with?"
MENU = ("Where is my order?", "A question", "My preferences", "Talk to a person")
TEMPLATE = "HX" + "7" * 32
TEXTS = Texts()


def _adapter(chat: ChatScript) -> WhatsAppAdapter:
    adapter = chat.baton.app[ADAPTERS]["whatsapp"]
    assert isinstance(adapter, WhatsAppAdapter)
    return adapter


def _emulator(chat: ChatScript) -> WhatsAppEmulator:
    emulator = chat.emulator
    assert isinstance(emulator, WhatsAppEmulator)
    return emulator


def _sends(chat: ChatScript) -> list[Call]:
    return [c for c in chat.emulator.calls() if c.method == "messages.create"]


async def _with_an_agent(chat: ChatScript) -> tuple[int, int, AgentRow]:
    """The customer asks for a person and Grace takes the conversation."""
    await chat.send("hi")
    await chat.expect(GREETING, choices=MENU)
    await chat.choose("Talk to a person")
    await chat.expect(TEXTS.human_waiting)
    customer_id = (await chat.conversation()).customer_id
    row = await chat.baton.store.conversation(customer_id)
    grace = await add_agent(chat.baton, "grace@example.com", "Grace")
    await handoffs_of(chat.baton).claim(int(row["id"]), customer_id, grace)
    await chat.read_all()
    return int(row["id"]), customer_id, grace


async def _a_day_later(chat: ChatScript) -> None:
    later = time.time() + 25 * 3600
    _adapter(chat).clock = lambda: later
    _emulator(chat).close_window(chat.customer)


async def test_menu_is_a_list_picker_and_a_pick_reaches_the_flow(tmp_path: Path) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        await chat.send("hi")
        reply = await chat.expect(GREETING, choices=MENU)
        call = reply.calls[-1]
        assert call.recipient == "whatsapp:+15551230001"
        assert call.params["From"] == "whatsapp:+14155238886"
        content = _emulator(chat).contents[call.params["ContentSid"]]
        assert [i["item"] for i in content["types"]["twilio/list-picker"]["items"]] == list(MENU)
        await chat.choose("Where is my order?")
        await chat.expect("What's your name?")
        assert await chat.baton.store.identity("whatsapp", "+15551230001") is not None


async def test_two_choices_are_quick_reply_buttons(tmp_path: Path) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        await chat.send("where is my order")
        await chat.expect("What's your name?")
        await chat.send("Ada")
        await chat.expect("Thanks, Ada. What's your order number?")
        await chat.send("what are your opening hours?")
        reply = await chat.expect(
            "Do you want to stop the order check and start the questions?", choices=["Yes", "No"]
        )
        content = _emulator(chat).contents[reply.calls[-1].params["ContentSid"]]
        assert "twilio/quick-reply" in content["types"]
        await chat.choose("Yes")
        await chat.expect(
            "We're open Monday to Friday, 9:00 to 17:30, and Saturday 10:00 to 16:00."
        )


async def test_inside_the_window_the_agent_reply_is_sent_as_written(tmp_path: Path) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        _adapter(chat).templates["reply"] = TEMPLATE
        _emulator(chat).approve(TEMPLATE, "We have an update for you: {{1}}")
        conversation_id, customer_id, grace = await _with_an_agent(chat)

        await handoffs_of(chat.baton).reply(conversation_id, customer_id, grace, "Found it!")

        reply = await chat.expect("Found it!")
        assert "ContentSid" not in reply.calls[-1].params
        assert reply.calls[-1].params["Body"] == "Found it!"


async def test_outside_the_window_the_configured_template_is_sent(tmp_path: Path) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        _adapter(chat).templates["reply"] = TEMPLATE
        _emulator(chat).approve(TEMPLATE, "We have an update for you: {{1}}")
        conversation_id, customer_id, grace = await _with_an_agent(chat)
        await _a_day_later(chat)

        await handoffs_of(chat.baton).reply(
            conversation_id, customer_id, grace, "Your parcel left the depot."
        )

        reply = await chat.expect("We have an update for you: Your parcel left the depot.")
        params = reply.calls[-1].params
        assert params["ContentSid"] == TEMPLATE
        assert json.loads(params["ContentVariables"]) == {"1": "Your parcel left the depot."}
        assert "Body" not in params
        refused = [c for c in _sends(chat) if not c.ok]
        assert refused == []  # the window was known: no free-form try first


async def test_outside_the_window_without_a_template_the_message_is_held(
    tmp_path: Path,
) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        conversation_id, customer_id, grace = await _with_an_agent(chat)
        await _a_day_later(chat)
        before = len(_sends(chat))

        await handoffs_of(chat.baton).reply(
            conversation_id, customer_id, grace, "Your parcel left the depot."
        )
        await chat.baton.engine.idle()

        assert len(_sends(chat)) == before  # nothing reached the platform
        rows = await chat.baton.store.outbox(customer_id)
        held = rows[-1]
        assert held["status"] == "failed"
        assert held["attempts"] == 1
        assert "held: outside WhatsApp's 24-hour customer-service window" in held["last_error"]
        assert "'reply'" in held["last_error"]


async def test_when_twilio_says_the_window_closed_the_template_is_sent_once(
    tmp_path: Path,
) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        _adapter(chat).templates["reply"] = TEMPLATE
        _emulator(chat).approve(TEMPLATE, "We have an update for you: {{1}}")
        conversation_id, customer_id, grace = await _with_an_agent(chat)
        _emulator(chat).close_window(chat.customer)  # Baton still thinks it is open

        await handoffs_of(chat.baton).reply(conversation_id, customer_id, grace, "Hello?")

        reply = await chat.expect("We have an update for you: Hello?")
        assert reply.calls[-1].params["ContentSid"] == TEMPLATE
        refused = [c for c in _sends(chat) if not c.ok]
        assert [c.response["code"] for c in refused] == [63016]


async def test_stop_opts_the_number_out_as_on_sms(tmp_path: Path) -> None:
    async with chat_on(
        "whatsapp", app, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    ) as chat:
        await chat.send("hi")
        await chat.expect(GREETING, choices=MENU)
        await chat.send("STOP")
        await chat.baton.engine.idle()
        identity = await chat.baton.store.identity("whatsapp", "+15551230001")
        assert identity is not None
        flags = await chat.baton.store.identity_flags(identity[0])
        assert flags["opted_out"] is True
        await chat.send("hello?")
        await chat.expect_no_reply()


async def test_a_whatsapp_picture_is_kept_and_an_agents_pdf_goes_as_media(
    tmp_path: Path,
) -> None:
    async with chat_on(
        "whatsapp",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        conversation_id, customer_id, grace = await _with_an_agent(chat)
        emulator = _emulator(chat)
        url = emulator.add_media(b"\x89PNG picture", "image/png")
        webhook = chat.baton.url("/webhooks/whatsapp")
        await emulator.customer_message(
            webhook, webhook, from_=chat.customer, to="+14155238886", media=[(url, "image/png")]
        )
        await chat.baton.engine.idle()
        rows = await MediaFiles(chat.baton.store).of_customer(customer_id)
        assert [(r.channel, r.status, r.size) for r in rows] == [("whatsapp", "stored", 12)]

        pdf = (
            await console_of(chat.baton)
            .engine.feature(MediaIntake)
            .files.put(customer_id, b"%PDF-1.4 invoice", suffix=".pdf")
        )
        await handoffs_of(chat.baton).reply(
            conversation_id,
            customer_id,
            grace,
            "Your invoice",
            media=[["document", pdf, "application/pdf", "invoice.pdf"]],
        )
        reply = await chat.expect("Your invoice")
        [media_url] = reply.calls[-1].params["MediaUrl"]
        assert media_url.startswith(chat.baton.url("/webhooks/whatsapp/media/"))
        async with ClientSession() as http, http.get(media_url) as rsp:
            assert (rsp.status, await rsp.read()) == (200, b"%PDF-1.4 invoice")
