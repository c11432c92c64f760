"""The docs site keeps its promises: generated reference pages match the code, every Python
block on a page is included from a file the test suite runs, and every picture is one a test
makes."""

from __future__ import annotations

import re
from pathlib import Path

from bot.reference import PAGES, stale_pages

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')
# Where included code lives: files the test suite imports or runs.
TESTED = ("examples/", "tests/docs/", "bot/scaffold/templates/")
# Pages whose ```python blocks are still written inline, so no test runs them. Each is a known
# gap, named here until its code moves into examples/ or tests/docs/ and is included with
# --8<--; the test fails once a page listed here no longer has such a block, so the list only
# shrinks. Do not add to it.
NOT_YET_RUN: dict[str, str] = {}


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_the_generated_reference_pages_match_the_code() -> None:
    assert stale_pages(DOCS / "reference") == [], "run: python -m bot.reference"
    assert sorted(PAGES) == ["cli.md", "http-api.md", "settings.md"]


def test_every_python_block_is_included_from_a_tested_file() -> None:
    loose = []
    for page in _pages():
        if str(page.relative_to(ROOT)) in NOT_YET_RUN:
            continue
        for block in re.findall(r"```python[^\n]*\n(.*?)```", page.read_text(), re.S):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            for line in lines:
                found = SNIPPET.match(line)
                if not found or not found["path"].startswith(TESTED):
                    loose.append(f"{page.relative_to(ROOT)}: {line}")
                    continue
                source = ROOT / found["path"]
                assert source.exists(), line
                if found["section"]:
                    assert f"[start:{found['section']}]" in source.read_text(), line
    assert loose == [], "include code from examples/ or tests/docs/ with --8<--"


def test_every_included_example_is_run_by_a_test() -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    tests += (ROOT / "tests" / "docs" / "conftest.py").read_text()
    included = {
        m["path"]
        for page in _pages()
        for m in map(SNIPPET.match, re.findall(r"--8<-- \"[^\"]+\"", page.read_text()))
        if m
    }
    for path in sorted(p for p in included if p.startswith("examples/") and p.endswith(".py")):
        module = path.removesuffix(".py").replace("/", ".")
        assert f"from {module} import" in tests, f"{path} is shown but no test imports it"
    for path in sorted(p for p in included if p.endswith(".env")):
        assert Path(path).name in tests, f"{path} is shown but no test loads it"


def test_every_picture_is_made_by_a_test() -> None:
    made_by_tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    pictures = {
        Path(link).name
        for page in [*_pages(), ROOT / "README.md"]
        for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text())
    }
    assert pictures
    for name in sorted(pictures):
        assert (DOCS / "images" / name).exists(), name
        assert f'"{name}"' in made_by_tests, f"no test makes {name}"


def test_the_pages_not_yet_run_still_need_it() -> None:
    for name in NOT_YET_RUN:
        text = (ROOT / name).read_text()
        inline = [
            block
            for block in re.findall(r"```python[^\n]*\n(.*?)```", text, re.S)
            if not all(SNIPPET.match(line.strip()) for line in block.splitlines() if line.strip())
        ]
        assert inline, f"{name} runs all its code now: remove it from NOT_YET_RUN"
