"""`.env.example`: every setting, commented out, with its default and what it does.

Made from the `Settings` model itself (its fields, defaults and the docstrings under them), so
it cannot drift from what Baton reads.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap

from bot.settings import Settings

__all__ = ["env_example", "field_docs"]


def env_example() -> str:
    """The text of `.env.example`."""
    docs = field_docs()
    lines = [
        "# Baton's settings. Copy this file to .env and uncomment what you need;",
        "# the environment wins over .env. A channel is on when its credentials are set.",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default is None:
            shown = ""
        elif isinstance(default, bool):
            shown = str(default).lower()
        else:
            shown = str(default)
        lines.append("")
        for line in docs.get(name, "").splitlines():
            lines.append(f"# {line}".rstrip())
        lines.append(f"# BATON_{name.upper()}={shown}")
    return "\n".join(lines) + "\n"


def field_docs() -> dict[str, str]:
    """The docstring under each field of `Settings`, by field name."""
    # The docstring written under a field, as pydantic's `use_attribute_docstrings` reads it.
    tree = ast.parse(textwrap.dedent(inspect.getsource(Settings)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field, after in itertools.pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[field.target.id] = inspect.cleandoc(after.value.value)
    return docs
