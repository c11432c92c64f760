"""`baton new NAME`: a folder with a small real bot, its tests, its settings and a README.

`cd NAME && baton shell` and `pytest` work at once: the bot is named in `pyproject.toml`, for
`baton` (`[tool.baton] app`) and for the test kit's pytest plugin (`baton_app`).
"""

from __future__ import annotations

import keyword
from importlib import resources
from pathlib import Path

from bot.scaffold.env_example import env_example

__all__ = ["ScaffoldError", "env_example", "new_project"]

_FILES = {
    "flows.py": "flows.py.tmpl",
    "test_flows.py": "test_flows.py.tmpl",
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
}


class ScaffoldError(Exception):
    """The project cannot be made there; the message says why and what to do."""


def new_project(name: str, parent: Path | None = None) -> str:
    """Make the folder `name` in `parent` (the current folder); returns what to do next."""
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ScaffoldError(
            f"{name!r} is not a valid Python module name: use letters, digits and _, "
            "not starting with a digit (e.g. shop or my_shop)"
        )
    folder = (parent or Path.cwd()) / name
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScaffoldError(f"{folder} already exists and is not empty; pick another name")
    folder.mkdir(parents=True, exist_ok=True)
    templates = resources.files("bot.scaffold").joinpath("templates")
    for target, template in _FILES.items():
        text = templates.joinpath(template).read_text(encoding="utf-8")
        (folder / target).write_text(text.format(name=name), encoding="utf-8")
    (folder / ".env.example").write_text(env_example(), encoding="utf-8")
    return (
        f"Made {name}/: flows.py (the bot), test_flows.py, pyproject.toml, .env.example, "
        f"README.md.\nNext: cd {name} && baton shell   (then: pytest, baton run)"
    )
