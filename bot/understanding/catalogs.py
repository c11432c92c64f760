"""Baton's own texts as gettext catalogs: what to translate, and the files that hold it.

    python -m bot.understanding.catalogs            # write dialogs/locale/baton.pot and
                                                    # bring every baton.po up to date

The texts come from `dialogs.Texts` (its defaults) and from each feature's texts module
(`TEXT_MODULES`): every string constant in the module's `__all__` with a space in it (button
values and command words have none). A new feature makes its texts translatable by adding
its module to `TEXT_MODULES` and running this command; translators fill in the `.po` files.
Catalogs are read at run time (`dialogs.languages`); nothing is compiled or downloaded.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from types import ModuleType

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from dialogs.flows import Texts
from dialogs.languages import BUILT_IN, DOMAIN

__all__ = ["TEXT_MODULES", "messages", "messages_of", "update"]

TEXT_MODULES = ("bot.linking.texts", "bot.understanding.texts", "dialogs.knowledge_texts")
"""The texts modules of the features whose customer texts are in the catalogs."""


def messages_of(module: ModuleType) -> list[str]:
    """The translatable texts of a texts module: string constants in `__all__` with a space."""
    out = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name, None)
        if isinstance(value, str) and " " in value.strip():
            out.append(value)
    return out


def messages(modules: Iterable[str] = TEXT_MODULES) -> list[str]:
    """Every built-in text to translate, in a stable order, each once."""
    defaults = Texts()
    found = [str(getattr(defaults, f.name)) for f in fields(defaults)]
    for name in modules:
        found.extend(messages_of(importlib.import_module(name)))
    return list(dict.fromkeys(found))


def update(folder: Path = BUILT_IN) -> list[Path]:
    """Write `<folder>/baton.pot` and add new texts to (and drop old ones from) each
    `<lang>/LC_MESSAGES/baton.po`; returns the files written."""
    template = Catalog(project="Baton", domain=DOMAIN)
    for text in messages():
        template.add(text, flags=("python-brace-format",) if "{" in text else ())
    written = [folder / f"{DOMAIN}.pot"]
    folder.mkdir(parents=True, exist_ok=True)
    with written[0].open("wb") as handle:
        write_po(handle, template, omit_header=False, width=0)
    for po in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as handle:
            write_po(handle, catalog, omit_header=False, width=0, ignore_obsolete=True)
        written.append(po)
    return written


if __name__ == "__main__":
    for path in update(Path(sys.argv[1]) if len(sys.argv) > 1 else BUILT_IN):
        print(path)  # noqa: T201 - a command's output
