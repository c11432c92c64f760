"""The README's examples run as written: the flow, its test script, and the first bot."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.baton import running_baton
from tests.support.command import BATON, user_env
from tests.support.webchat import WebChat

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def mybot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = next(b for b in blocks if b.startswith("# mybot.py"))
    (tmp_path / "readme_mybot.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("readme_mybot")
    yield module
    sys.modules.pop("readme_mybot", None)


async def test_the_readme_flow_runs_as_written(mybot: object, sqlite_url: str) -> None:
    app = getattr(mybot, "app")  # noqa: B009 - a module loaded at run time
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("I'd like to book a table")
        await chat.expect("Who is the booking for?")
        await chat.send("Ada")
        await chat.expect("How many seats, Ada?")
        await chat.send("12")
        await chat.expect("You can book 1 to 8 seats. How many would you like?")
        await chat.send("4")
        await chat.expect("Where should we send the confirmation?")
        await chat.send("ada@example.com")
        await chat.expect("Lunch or dinner?")
        await chat.send("2")
        await chat.expect("Booked 4 seats for dinner, reference BK-1042.")


@pytest.mark.parametrize("channel", ["telegram", "twilio", "slack"])
async def test_the_readme_chat_script_runs_on_every_channel(
    mybot: object, tmp_path: Path, channel: str
) -> None:
    from bot.testing import chat_on

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    script = next(b for b in blocks if b.startswith("# test_mybot.py"))
    namespace: dict[str, object] = {}
    exec(compile(script, "README test_mybot.py", "exec"), namespace)
    test = namespace["test_a_large_booking_goes_to_a_person"]
    assert callable(test)
    app = getattr(mybot, "app")  # noqa: B009 - a module loaded at run time
    url = f"sqlite+aiosqlite:///{tmp_path / 'readme.db'}"
    async with chat_on(channel, app, database_url=url) as chat:
        await test(chat)


def _first_bot_block(name: str) -> str:
    section = README.read_text().split("## Your first bot in five minutes", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, re.S)
    return next(b for b in blocks if b.startswith(f"# {name}\n"))


def test_the_readme_first_bot_is_what_baton_new_writes_and_passes_as_printed(
    tmp_path: Path,
) -> None:
    made = subprocess.run(
        [BATON, "new", "shop"], cwd=tmp_path, env=user_env(), capture_output=True, check=False
    )
    assert made.returncode == 0, made.stderr
    shop = tmp_path / "shop"
    for name in ("flows.py", "test_flows.py"):
        printed = _first_bot_block(name)
        assert (shop / name).read_text() == printed
        (shop / name).write_text(printed)  # run the README's text itself
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=shop,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "8 passed" in tests.stdout  # two tests on four channels
    assert "warning" not in tests.stdout.lower()
