"""The README as a visitor reads it: its two commands, its flow (the file examples/readme.py,
run here on every channel), its pictures (made by the browser tests) and its links into the
docs site all hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.testing import chat_on
from examples.readme import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUN = "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && baton run"
TEST = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && python -m pytest"
)


def test_the_two_commands_are_there_as_ci_runs_them() -> None:
    text = README.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[:2] == [RUN + "\n", TEST + "\n"]
    home = (ROOT / "docs" / "index.md").read_text()  # the docs' home page shows them too
    assert RUN in home
    assert TEST in home
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[dev]'" in ci
    assert "python -m pytest" in ci


def test_the_readme_flow_is_examples_readme_py() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks == [(ROOT / "examples" / "readme.py").read_text()]
    assert len(blocks[0].splitlines()) <= 16


@pytest.mark.parametrize("channel", ["telegram", "twilio", "slack"])
async def test_the_readme_flow_books_and_hands_a_large_table_to_a_person(
    tmp_path: Path, channel: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'readme.db'}"
    async with chat_on(channel, app, database_url=url) as chat:
        await chat.send("I'd like to book a table")
        await chat.expect("Who is the booking for?")
        await chat.send("Ada")
        await chat.expect("How many seats, Ada?")
        await chat.send("four")
        await chat.expect("Please answer with a whole number, like 3.")
        await chat.send("4")
        await chat.expect("Lunch or dinner?", choices=["Lunch", "Dinner"])
        await chat.choose("Dinner")
        await chat.expect("Booked: 4 seats for dinner, Ada.")
        await chat.send("book a table")
        await chat.expect("How many seats, Ada?")  # the name is remembered
        await chat.send("12")
        await chat.expect("Lunch or dinner?")
        await chat.choose("Lunch")
        conversation = await chat.conversation()
    assert conversation.status == "waiting"
    assert conversation.handoff_reason == "12 seats for Lunch"


def test_the_readme_pictures_and_links_exist() -> None:
    text = README.read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "docs/images/sandbox.png" in pictures
    assert "docs/images/console.png" in pictures
    links = [
        link
        for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
        if not link.startswith(("http://", "https://"))
    ]
    assert any(link.startswith("docs/") for link in links)
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == []
