"""Pictures, files and locations from customers: asked for by a flow, fetched through each
platform's SDK from its emulator, kept with the customer's id, shown to the agent behind the
console's authorisation; and the files that are refused (too large, a type not allowed, a
download that fails or hangs, a URL not on the platform's host), each with its reason recorded
and a message to the customer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from adapters.emulators import (
    SlackView,
    TelegramEmulator,
    TelegramView,
    TwilioEmulator,
    TwilioView,
)
from bot.testing import ChatScript, chat_on
from dialogs import App, Context, Keyword, Location, Photo, allowed, flow
from storage import LocalFolder, MediaFiles
from tests.console.support import Browser, add_agent

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
DIGEST = hashlib.sha256(PICTURE).hexdigest()[:12]


@flow(triggers=[Keyword("damage")])
async def damage(ctx: Context) -> None:
    photo = await ctx.ask(
        "Send a photo of the damage", expect=Photo, validate=allowed(types={"image/*"})
    )
    data = await photo.read()
    await ctx.say(f"Thanks: {len(data)} bytes, {hashlib.sha256(data).hexdigest()[:12]}")
    spot = await ctx.ask("Where is the car?", expect=Location)
    await ctx.say(f"At {spot.latitude}, {spot.longitude}")
    await ctx.handoff(reason="damage report")


app = App(flows=[damage])


def _telegram(chat: ChatScript) -> tuple[TelegramView, TelegramEmulator]:
    view = chat._view
    assert isinstance(view, TelegramView)
    return view, view.telegram


def _twilio(chat: ChatScript) -> tuple[TwilioView, TwilioEmulator]:
    view = chat._view
    assert isinstance(view, TwilioView)
    return view, view.twilio


async def _send_photo(chat: ChatScript, data: bytes) -> None:
    view, telegram = _telegram(chat)
    result = await telegram.customer_photo(
        chat.baton.url("/webhooks/telegram"), view.secret, user_id=int(chat.customer), data=data
    )
    assert result.status == 200
    chat._spoke = True


async def _files(chat: ChatScript) -> list[tuple[str, str | None, int | None]]:
    found = await chat.baton.store.identity(chat.channel, chat._view.identity(chat.customer))
    assert found is not None
    rows = await MediaFiles(chat.baton.store).of_customer(found[1])
    return [(r.status, (r.reason or "").split(":")[0] or None, r.size) for r in rows]


async def test_a_telegram_photo_reaches_the_flow_with_its_bytes_and_the_agent_sees_it(
    tmp_path: Path,
) -> None:
    async with chat_on(
        "telegram",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        await _send_photo(chat, PICTURE)
        await chat.expect(f"Thanks: {len(PICTURE)} bytes, {DIGEST}")
        asked = await chat.expect("Where is the car?")
        keyboard = asked.calls[-1].params["reply_markup"]["keyboard"]
        assert keyboard[0][0]["request_location"] is True  # Telegram's own way to answer
        view, telegram = _telegram(chat)
        await telegram.customer_location(
            chat.baton.url("/webhooks/telegram"),
            view.secret,
            user_id=int(chat.customer),
            latitude=52.37,
            longitude=4.89,
        )
        chat._spoke = True
        await chat.expect("At 52.37, 4.89")
        await chat.read_all()
        assert await _files(chat) == [("stored", None, len(PICTURE))]
        kept = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
        assert [p.read_bytes() for p in kept] == [PICTURE]

        conversation = await chat.conversation()
        row = await chat.baton.store.conversation(conversation.customer_id)
        await add_agent(chat.baton, "grace@example.com", "Grace")
        async with Browser(chat.baton) as grace, Browser(chat.baton) as stranger:
            await grace.login("grace@example.com")
            status, body = await grace.get(f"/api/conversations/{row['id']}/messages")
            assert status == 200
            files = [f for m in body["messages"] for f in m["files"]]
            assert [(f["kind"], f["mime_type"], f["size"]) for f in files] == [
                ("image", "image/jpeg", len(PICTURE))
            ]
            url = files[0]["url"]
            async with grace.http.get(chat.baton.url(url), headers=grace.headers()) as rsp:
                assert rsp.status == 200
                assert await rsp.read() == PICTURE
                assert rsp.headers["X-Content-Type-Options"] == "nosniff"
            async with stranger.http.get(chat.baton.url(url)) as rsp:
                assert rsp.status == 401
            async with grace.http.get(
                chat.baton.url("/api/files/999999"), headers=grace.headers()
            ) as rsp:
                assert rsp.status == 404


async def test_a_photo_over_the_limit_is_refused_and_the_question_stays_open(
    tmp_path: Path,
) -> None:
    async with chat_on(
        "telegram",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
        media_max_bytes=1000,
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        await _send_photo(chat, PICTURE)
        await chat.expect(
            "Sorry, that file is too large for me (the limit is 1 kB). Could you send a "
            "smaller one?"
        )
        await _send_photo(chat, PICTURE[:900])
        await chat.expect(f"Thanks: 900 bytes, {hashlib.sha256(PICTURE[:900]).hexdigest()[:12]}")
        assert await _files(chat) == [("refused", "too_large", None), ("stored", None, 900)]
        assert not [
            p for p in (tmp_path / "media").rglob("*") if p.is_file() and p.stat().st_size > 1000
        ]


async def test_a_file_type_not_allowed_is_refused(tmp_path: Path) -> None:
    async with chat_on(
        "telegram",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        view, telegram = _telegram(chat)
        await telegram.customer_document(
            chat.baton.url("/webhooks/telegram"),
            view.secret,
            user_id=int(chat.customer),
            file_name="setup.exe",
            mime_type="application/x-msdownload",
            data=b"MZ" + bytes(100),
        )
        chat._spoke = True
        await chat.expect(
            "Sorry, I can't accept that kind of file (application/x-msdownload). Could you "
            "send it as a photo or a PDF?"
        )
        assert await _files(chat) == [("refused", "type", None)]
        assert not (tmp_path / "media").exists()


async def test_a_download_that_hangs_is_given_up(tmp_path: Path) -> None:
    async with chat_on(
        "telegram",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
        media_fetch_seconds=0.5,
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        _, telegram = _telegram(chat)
        telegram.hang_next(method="file")
        await _send_photo(chat, PICTURE)
        await chat.expect("Sorry, that file took too long to arrive. Could you send it again?")
        assert await _files(chat) == [("refused", "timeout", None)]
        telegram.release_hung()


async def test_an_mms_is_fetched_with_the_account_credentials(tmp_path: Path) -> None:
    async with chat_on(
        "twilio",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        view, twilio = _twilio(chat)
        url = twilio.add_media(PICTURE, "image/png")
        webhook = chat.baton.url("/webhooks/twilio/sms")
        await twilio.customer_sms(
            webhook, webhook, from_=chat.customer, to=view.number, media=[(url, "image/png")]
        )
        chat._spoke = True
        await chat.expect(f"Thanks: {len(PICTURE)} bytes, {DIGEST}")
        fetched = twilio.calls("media.fetch")
        assert [c.status for c in fetched] == [200]
        assert await _files(chat) == [("stored", None, len(PICTURE))]

        # Erasure: the customer's rows go, and the caller deletes the bytes they point at.
        customer_id = (await chat.conversation()).customer_id
        rows = MediaFiles(chat.baton.store)
        locations = await rows.forget(customer_id)
        files = LocalFolder(tmp_path / "media")
        for location in locations:
            await files.delete(location)
        assert len(locations) == 1
        assert await rows.of_customer(customer_id) == []
        assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "foreign_host"),
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "foreign_host"),
        ("missing", "failed"),
    ],
)
async def test_an_mms_url_off_the_platform_or_missing_is_refused_without_fetching_elsewhere(
    tmp_path: Path, where: str, reason: str
) -> None:
    async with chat_on(
        "twilio",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        view, twilio = _twilio(chat)
        if where == "missing":  # on the emulator's host, but no such media
            where = twilio.add_media(b"", "image/png") + "-gone"
        webhook = chat.baton.url("/webhooks/twilio/sms")
        await twilio.customer_sms(
            webhook, webhook, from_=chat.customer, to=view.number, media=[(where, "image/png")]
        )
        chat._spoke = True
        await chat.expect("Sorry, I couldn't receive that file. Could you send it again?")
        assert await _files(chat) == [("refused", reason, None)]
        expected = [404] if reason == "failed" else []
        assert [c.status for c in twilio.calls("media.fetch")] == expected


@pytest.mark.parametrize("elsewhere", [False, True])
async def test_a_slack_file_is_fetched_with_the_bot_token_only_from_slack(
    tmp_path: Path, elsewhere: bool
) -> None:
    async with chat_on(
        "slack",
        app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        view = chat._view
        assert isinstance(view, SlackView)
        shared = view.slack.add_customer_file(PICTURE, "dent.png", "image/png")
        if elsewhere:  # a url_private that is not Slack's: the bot token is never sent there
            shared["url_private"] = "https://attacker.example/files-pri/x/dent.png"
        await view.slack.customer_message(
            chat.baton.url("/webhooks/slack/events"),
            view.signing_secret,
            user=chat.customer,
            text="",
            files=[shared],
        )
        chat._spoke = True
        if elsewhere:
            await chat.expect("Sorry, I couldn't receive that file. Could you send it again?")
            assert await _files(chat) == [("refused", "foreign_host", None)]
            assert view.slack.calls("files.private") == []
        else:
            await chat.expect(f"Thanks: {len(PICTURE)} bytes, {DIGEST}")
            assert await _files(chat) == [("stored", None, len(PICTURE))]
