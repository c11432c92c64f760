"""The WhatsApp and media guide's code (docs/guides/whatsapp-and-media.md includes it from
here and from examples/damage.py), run through the test kit and the platforms' emulators."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from adapters.emulators import TelegramView
from adapters.whatsapp.emulator import WhatsAppEmulator
from bot.media import MediaConfig, MediaIntake
from bot.settings import Settings
from bot.testing import ChatScript, chat_fixture, chat_on
from dialogs import App, Choice, Context, Keyword, flow
from dialogs.media import read_location, register_reader
from examples.damage import app as damage_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")


@flow(triggers=[Keyword("hi")])
async def menu(ctx: Context) -> None:
    picked = await ctx.ask(
        "What can I do for you?",
        choices=[
            Choice("order", "Where is my order"),
            Choice("return", "Return an item"),
            Choice("hours", "Opening hours"),
            Choice("person", "Talk to a person"),
        ],
    )
    await ctx.say(f"You picked {picked}.")


chat = chat_fixture(App(flows=[menu]))


# --8<-- [start:menu]
async def test_the_menu(chat: ChatScript) -> None:  # runs on telegram, twilio, slack, whatsapp
    await chat.send("hi")
    await chat.choose("Talk to a person")  # a list item tapped on WhatsApp
    # --8<-- [end:menu]
    await chat.expect("You picked person.")


@pytest.mark.parametrize("chat", ["whatsapp"], indirect=True)
async def test_four_choices_are_a_whatsapp_list(chat: ChatScript) -> None:
    await chat.send("hi")
    await chat.expect("What can I do for you?")
    twilio = chat.emulator
    assert isinstance(twilio, WhatsAppEmulator)
    content = twilio.contents[chat.reply.params["ContentSid"]]  # sent by its Content sid
    assert list(content["types"]) == ["twilio/list-picker"]
    await chat.choose("Talk to a person")
    await chat.expect("You picked person.")


PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


async def test_the_damage_flow_takes_a_photo_and_a_location(tmp_path: Path) -> None:
    async with chat_on(
        "telegram",
        damage_app,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        media_folder=str(tmp_path / "media"),
    ) as chat:
        view = chat._view
        assert isinstance(view, TelegramView)
        webhook, user = chat.baton.url("/webhooks/telegram"), int(chat.customer)
        await chat.send("damage")
        await chat.expect("Send a photo of the damage")
        await view.telegram.customer_photo(webhook, view.secret, user_id=user, data=PICTURE)
        chat._spoke = True
        await chat.expect("Where is the car?")
        await view.telegram.customer_location(
            webhook, view.secret, user_id=user, latitude=52.37, longitude=4.89
        )
        await chat.expect(f"Thanks! {len(PICTURE)} bytes, at 52.37, 4.89.")


# --8<-- [start:store]
class S3Files:
    """A file store on a bucket: "s3://<bucket>/<customer id>/<sha256><suffix>" URIs, over an
    S3 client (boto3's `client("s3")`, or any with put_object/get_object/delete_object)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def put(self, customer_id: int, data: bytes, *, suffix: str = "") -> str:
        key = f"{int(customer_id)}/{hashlib.sha256(data).hexdigest()}{suffix}"
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    async def read(self, location: str) -> bytes:
        got = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self._key(location)
        )
        return bytes(got["Body"].read())

    async def delete(self, location: str) -> None:
        await asyncio.to_thread(
            self.client.delete_object, Bucket=self.bucket, Key=self._key(location)
        )

    def _key(self, location: str) -> str:
        parsed = urlparse(location)
        if parsed.scheme != "s3" or parsed.netloc != self.bucket:
            raise FileNotFoundError(f"{location!r} is not in s3://{self.bucket}")
        return parsed.path.lstrip("/")


# --8<-- [end:store]


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class FakeS3:
    """boto3's S3 calls used by S3Files, over a dict."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[Bucket, Key] = Body

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, _Body]:
        return {"Body": _Body(self.objects[Bucket, Key])}

    def delete_object(self, *, Bucket: str, Key: str) -> None:
        self.objects.pop((Bucket, Key), None)


async def test_files_kept_in_object_storage() -> None:
    settings, client = Settings(), FakeS3()
    # --8<-- [start:features]
    store = S3Files(client, bucket="baton-media")  # client: e.g. boto3.client("s3")
    register_reader("s3", store.read)
    features = [MediaIntake(MediaConfig.from_settings(settings), files=store)]
    # --8<-- [end:features]
    assert features[0].files is store
    location = await store.put(7, PICTURE, suffix=".png")
    assert location.startswith("s3://baton-media/7/")
    assert await read_location(location) == PICTURE  # what a flow's photo.read() does
    await store.delete(location)
    assert client.objects == {}
