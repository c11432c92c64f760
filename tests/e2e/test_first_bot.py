"""`baton new` as a new user runs it: the project it makes chats in `baton shell` and passes its
own tests, with no edits and no warnings; and what it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.scaffold import env_example
from bot.settings import Settings
from tests.support.command import BATON, user_env


def _baton(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args],
        cwd=cwd,
        env=user_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_new_project_chats_in_the_shell_and_passes_its_tests(tmp_path: Path) -> None:
    made = _baton("new", "shop", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    shop = tmp_path / "shop"
    assert "cd shop && baton shell" in made.stdout
    shell = _baton("shell", "--user", "ada", cwd=shop, stdin="hello\n1\nAda\n123\n12345\n")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest"],
        cwd=shop,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "bot> Hi! I'm the shop bot. What can I do for you?" in shell.stdout
    assert "1. Where is my order?" in shell.stdout
    assert "bot> An order number has 5 digits, like 12345. What is yours?" in shell.stdout
    assert "bot> Order 12345 is on its way, Ada." in shell.stdout
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
    assert "warning" not in (tests.stdout + tests.stderr).lower()


def test_env_example_lists_every_setting_commented_out(tmp_path: Path) -> None:
    assert _baton("new", "shop", cwd=tmp_path).returncode == 0
    text = (tmp_path / "shop" / ".env.example").read_text()
    assert text == env_example()
    for name in Settings.model_fields:
        assert f"\n# BATON_{name.upper()}=" in text
    assert not [line for line in text.splitlines() if line and not line.startswith("#")]


def test_a_folder_that_is_not_empty_and_a_bad_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "notes.txt").write_text("mine")
    taken = _baton("new", "shop", cwd=tmp_path)
    bad = _baton("new", "my-shop", cwd=tmp_path)
    assert taken.returncode == 2
    assert taken.stderr.strip().count("\n") == 0
    assert "already exists and is not empty" in taken.stderr
    assert (tmp_path / "shop" / "notes.txt").read_text() == "mine"
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "'my-shop' is not a valid Python module name" in bad.stderr
    assert not (tmp_path / "my-shop").exists()
