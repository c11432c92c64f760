"""The test kit's pytest plugin, as a developer's project meets it: Baton installed, no conftest,
the bot named in the pytest configuration, and the `chat` fixture on every emulated channel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
baton_app = "shop:app"
filterwarnings = [
    "error",
    "ignore::DeprecationWarning:aiogram.*",
    "ignore::DeprecationWarning:twilio.*",
]
"""

SHOP = """
from dialogs import App, Context, flow
from dialogs.triggers import Keyword


@flow(triggers=[Keyword("where is my order")], description="Where is my order?")
async def order_help(ctx: Context) -> None:
    name = await ctx.ask("Hi! What's your name?")
    await ctx.say(f"Thanks, {name}. Your order is on its way.")


app = App(flows=[order_help])
"""

TEST = """
async def test_order_help(chat):
    await chat.send("where is my order")
    await chat.expect("Hi! What's your name?")
    await chat.send("Ada")
    await chat.expect("Thanks, Ada. Your order is on its way.")
"""


def test_a_project_gets_the_chat_fixture_on_every_channel_without_a_conftest(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    (tmp_path / "shop.py").write_text(SHOP)
    (tmp_path / "test_shop.py").write_text(TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_shop.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout  # telegram, twilio, slack, whatsapp
