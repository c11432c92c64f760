"""The reference pages of the documentation that are made from the code, so they cannot drift.

- `settings_page()`: every `BATON_*` setting, from the `Settings` model (its fields, types,
  defaults, limits and the docstrings under them).
- `cli_page()`: every `baton` command and option, from the argparse parser `baton` runs.
- `http_api_page()`: every route of the console's JSON API, from its OpenAPI document.

`python -m bot.reference` writes them to `docs/reference/`; `--check` exits 1 naming each page
that differs from what the code makes (the docs build and a test run the same check).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["PAGES", "cli_page", "http_api_page", "main", "settings_page", "stale_pages"]

_HEADER = (
    "<!-- Made by `python -m bot.reference` from {source}; do not edit by hand: "
    "a test and the docs build fail when it differs. -->\n\n"
)


def settings_page() -> str:
    """The settings reference: one section per `BATON_*` variable."""
    from bot.scaffold.env_example import field_docs
    from bot.settings import Settings

    docs = field_docs()
    out = [
        _HEADER.format(source="`bot/settings.py`"),
        "# Settings\n\n",
        "Baton reads its settings from the environment, or from a `.env` file in the folder it "
        "runs in (the environment wins). Every variable starts with `BATON_`. A bad value stops "
        "Baton at start with one message naming the variable, its value and where to fix it, "
        "for example `bad setting BATON_PORT='eighty': Input should be a valid integer ...; fix "
        "it in the environment or .env`. `baton new` writes every setting, commented out, to "
        "`.env.example`.\n\n",
        "A channel is on when its credentials are set.\n\n",
        "| Variable | Default | What it is |\n|---|---|---|\n",
    ]
    for name, field in Settings.model_fields.items():
        first = _first_sentence(docs.get(name, "")).replace("|", "\\|")
        out.append(f"| [`BATON_{name.upper()}`](#baton_{name}) | {_default(field)} | {first} |\n")
    for name, field in Settings.model_fields.items():
        out.append(f"\n## `BATON_{name.upper()}` {{#baton_{name}}}\n\n")
        text = docs.get(name, "").replace("\n", " ")
        if text:
            out.append(f"{text}\n\n")
        out.append(f"- Type: `{_type_name(field.annotation)}`\n")
        out.append(f"- Default: {_default(field)}\n")
        limits = _limits(field)
        if limits:
            out.append(f"- Allowed: {limits}\n")
    return "".join(out)


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    end = flat.replace("e.g. ", "e.g._").replace("i.e. ", "i.e._").find(". ")
    return flat if end < 0 else flat[: end + 1]


def _default(field: Any) -> str:
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if default == "":
        return "empty"
    return f"`{default}`"


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    shown = text or str(annotation).replace("typing.", "")
    return shown.replace("NoneType", "None")


def _limits(field: Any) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = []
    for item in field.metadata:
        for key, symbol in words.items():
            value = getattr(item, key, None)
            if value is not None:
                found.append(f"{symbol} {value}")
    return ", ".join(found)


def cli_page() -> str:
    """The command-line reference: `baton` and each of its commands, from the parser."""
    from bot.cli import _parser

    parser = _parser()
    # argparse wraps help to the terminal's width: a fixed one makes the page the same anywhere.
    width = {"COLUMNS": "100"}
    out = [
        _HEADER.format(source="the parser in `bot/cli.py`"),
        "# Command line\n\n",
        "`baton` is installed with Baton (`python -m bot` is the same as `baton`). Without a "
        "command it runs `baton run`. A start-up mistake (a bad setting, the database "
        "unreachable, the port taken, an error in your bot) is one or two lines naming it and "
        "the fix, with exit status 2.\n\n",
        "```text\n",
        _help(parser, width),
        "```\n",
    ]
    for name, sub in _subcommands(parser):
        anchor = "baton-" + name.replace(" ", "-")
        out.append(f"\n## `baton {name}` {{#{anchor}}}\n\n")
        out.append("```text\n")
        out.append(_help(sub, width))
        out.append("```\n")
        arguments = [
            a
            for a in sub._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        ]
        if arguments:
            out.append("\n| Argument | Meaning |\n|---|---|\n")
            for action in arguments:
                flags = ", ".join(f"`{f}`" for f in action.option_strings) or f"`{action.dest}`"
                help_text = (action.help or "").replace("|", "\\|")
                if action.choices:
                    help_text += " (one of " + ", ".join(f"`{c}`" for c in action.choices) + ")"
                out.append(f"| {flags} | {help_text} |\n")
    return "".join(out)


def _help(parser: argparse.ArgumentParser, environ: dict[str, str]) -> str:
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, environ):
        return parser.format_help()


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, Any]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for deeper, subsub in _subcommands(sub):
                    yield f"{name} {deeper}", subsub


_METHODS = ("get", "post", "put", "patch", "delete")


def http_api_page() -> str:
    """The HTTP API reference: every route of `/api/`, from the OpenAPI document."""
    from bot.console.openapi import document

    doc = document()
    out = [
        _HEADER.format(source="the OpenAPI document in `bot/console/openapi.py`"),
        f"# HTTP API\n\n{doc['info']['description']}\n\n",
        "A running Baton serves the same document at `/api/openapi.json` (OpenAPI "
        f'{doc["openapi"]}). Errors answer `{{"error": {{"code": ..., "message": ...}}}}`'
        ".\n\n",
        "| Method | Path | What it does |\n|---|---|---|\n",
    ]
    operations = [
        (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method in _METHODS
    ]
    for path, method, op in operations:
        anchor = _anchor(method, path)
        out.append(f"| `{method.upper()}` | [`{path}`](#{anchor}) | {op.get('summary', '')} |\n")
    for path, method, op in operations:
        out.append(f"\n## `{method.upper()} {path}` {{#{_anchor(method, path)}}}\n\n")
        summary = op.get("summary", "")
        out.append(summary if summary.endswith(".") else summary + ".")
        out.append("\n\n")
        if op.get("security") == []:
            out.append("No login needed.\n\n")
        elif "(admin)" in summary:
            out.append("Admins only.\n\n")
        params = op.get("parameters", [])
        if params:
            out.append("| Parameter | In | Type | Required |\n|---|---|---|---|\n")
            for p in params:
                required = "yes" if p.get("required") else "no"
                out.append(
                    f"| `{p['name']}` | {p['in']} | {_schema_text(p.get('schema', {}))} "
                    f"| {required} |\n"
                )
            out.append("\n")
        body = op.get("requestBody")
        if body:
            needed = "" if body.get("required", True) else " (optional)"
            for kind, media_type in body["content"].items():
                out.append(f"Request body{needed}, `{kind}`:\n\n")
                out.append(_json_block(media_type.get("schema", {})))
        out.append("| Status | Meaning | Body |\n|---|---|---|\n")
        for status, response in op.get("responses", {}).items():
            media: dict[str, Any] = next(iter(response.get("content", {}).values()), {})
            body_schema: dict[str, Any] | None = media.get("schema")
            shown = _schema_text(body_schema) if body_schema else ""
            description = response["description"].replace("|", "\\|")
            out.append(f"| {status} | {description} | {shown} |\n")
    out.append("\n## Schemas\n")
    for name, schema in doc["components"]["schemas"].items():
        out.append(f"\n### `{name}` {{#schema-{name.lower()}}}\n\n")
        out.append(_json_block(schema))
    return "".join(out)


def _anchor(method: str, path: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in path.strip("/"))
    return f"{method}-{cleaned}".strip("-").replace("--", "-").lower()


def _schema_text(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[1]
        return f"[`{name}`](#schema-{name.lower()})"
    if schema.get("type") == "object" and "properties" in schema:
        return "`{" + ", ".join(schema["properties"]) + "}`"
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    extra = f", at most {schema['maximum']}" if "maximum" in schema else ""
    return f"`{kind}`{extra}" if kind else ""


def _json_block(schema: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(schema, indent=2, ensure_ascii=False) + "\n```\n\n"


PAGES = {
    "settings.md": settings_page,
    "cli.md": cli_page,
    "http-api.md": http_api_page,
}
"""The generated pages, by file name under `docs/reference/`."""


def stale_pages(folder: Path) -> list[str]:
    """The pages under `folder` that differ from what the code makes (or are missing)."""
    stale = []
    for name, make in PAGES.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != make():
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Write the generated reference pages, or with `--check` report the stale ones."""
    parser = argparse.ArgumentParser(prog="python -m bot.reference", description=__doc__)
    parser.add_argument("--folder", default="docs/reference", help="where the pages live")
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if args.check:
        stale = stale_pages(folder)
        for name in stale:
            print(f"{folder / name} is out of date: run python -m bot.reference", file=sys.stderr)
        return 1 if stale else 0
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        (folder / name).write_text(make(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
