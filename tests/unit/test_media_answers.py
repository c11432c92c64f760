"""Media answers (`dialogs.media`): what an answer gives a question expecting a photo, a file,
a location or a contact; the size and type validator; and the local file store."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs import Contact, Document, Invalid, Location, Photo, allowed
from dialogs.media import answer_as, expect_name
from storage import LocalFolder

KEPT = {
    "files": [
        {
            "id": 1,
            "kind": "document",
            "url": "tg-file:x",
            "mime_type": "image/png",
            "name": "scan.png",
            "size": 2000,
            "location": "file:///nowhere/scan.png",
        }
    ]
}


def test_a_picture_sent_as_a_file_is_a_photo_and_a_document() -> None:
    photo = answer_as("photo", KEPT)
    assert isinstance(photo, Photo)
    assert (photo.name, photo.size, photo.file_id) == ("scan.png", 2000, 1)
    assert isinstance(answer_as("document", KEPT), Document)


def test_a_pdf_is_not_a_photo_and_text_is_neither() -> None:
    pdf = {"media": [["document", "tg-file:y", "application/pdf", "a.pdf"]]}
    with pytest.raises(Invalid, match=r"Please send a photo\."):
        answer_as("photo", pdf)
    with pytest.raises(Invalid, match=r"Please send a file\."):
        answer_as("document", {"text": "here it is"})


def test_locations_and_contacts() -> None:
    assert answer_as("location", {"location": [52.3, 4.9]}) == Location(52.3, 4.9)
    assert answer_as("contact", {"contact_phone": "+31612345678"}) == Contact("+31612345678")
    with pytest.raises(Invalid, match=r"Please share a location\."):
        answer_as("location", {"text": "Amsterdam"})


def test_expect_takes_only_the_media_kinds() -> None:
    assert expect_name(Photo) == "photo"
    with pytest.raises(TypeError, match="expect= takes Photo, Document, Location or Contact"):
        expect_name(str)


def test_allowed_checks_type_and_size() -> None:
    photo = answer_as("photo", KEPT)
    assert allowed(types={"image/*"}, max_bytes=5000)(photo) is photo
    with pytest.raises(Invalid, match="That file is too large"):
        allowed(max_bytes=1000)(photo)
    with pytest.raises(Invalid, match="Please send one of: application/pdf"):
        allowed(types={"application/pdf"})(photo)


async def test_a_file_not_fetched_cannot_be_read() -> None:
    photo = answer_as("photo", {"media": [["image", "tg-file:z", "image/jpeg", None]]})
    with pytest.raises(LookupError, match="not fetched"):
        await photo.read()


async def test_the_local_folder_keeps_reads_and_forgets_and_stays_in_its_root(
    tmp_path: Path,
) -> None:
    files = LocalFolder(tmp_path / "media")
    where = await files.put(7, b"bytes", suffix=".png")
    assert where.startswith((tmp_path / "media" / "7").as_uri())
    assert await files.read(where) == b"bytes"
    assert await Photo("image", "x", location=where).read() == b"bytes"
    outside = (tmp_path / "secret.txt").as_uri()
    (tmp_path / "secret.txt").write_text("no")
    with pytest.raises(FileNotFoundError):
        await files.read(outside)
    with pytest.raises(FileNotFoundError):
        await files.read((tmp_path / "media" / ".." / "secret.txt").as_uri())
    await files.delete(where)
    with pytest.raises(FileNotFoundError):
        await files.read(where)
