"""The customer's language, and Baton's own texts in it through message catalogs.

The customer's language is a code ("en", "nl") kept in their memory under `LANGUAGE_KEY`, so
it is the same on every channel and survives linking. It comes from the platform (Telegram's
`language_code`), from what the customer writes (`detect`), or from a flow
(`ctx.language = "nl"`), the flow's choice winning over the others.

Baton's own texts (help, cancel, the queue, handoff, linking, "Please pick one of the
options") are written in English and translated through gettext catalogs: one `.po` file per
language, read at start-up with Babel (no compile step, nothing downloaded). The built-in
ones live in `dialogs/locale/<lang>/LC_MESSAGES/baton.po`; an app adds or overrides texts
with its own folder of the same shape (`Languages(catalogs=["locale"])`), and adding a
language is adding a catalog file. A message whose text is a catalog entry is sent in the
customer's language; entries with `{placeholders}` match the filled-in text too, so
"Linked! This chat and your {where} chat ..." is translated after it was formatted.

Example:
    >>> app = App(flows=[...], languages=Languages(catalogs=["shop/locale"],
    ...                                             texts={"nl": Texts(help="Waarmee ...")}))
    >>> app.languages.translate("Please pick one of the options.", "nl")
    'Kies een van de opties.'
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogs.errors import RegistrationError
from dialogs.prompts import Choice, Prompt

if TYPE_CHECKING:
    from dialogs.flows import Texts

__all__ = ["BUILT_IN", "LANGUAGE_KEY", "Catalog", "Languages", "detect", "read_catalog"]

LANGUAGE_KEY = "language"
"""The memory key of the customer's language (an ISO 639-1 code such as "nl")."""
SOURCE_KEY = "_baton_language_from"
"""Where the language came from: "platform", "text" or "flow" (a flow's choice is kept)."""
BUILT_IN = Path(__file__).parent / "locale"
"""The folder of Baton's own catalogs."""
DOMAIN = "baton"

_COMMON_EN = (
    "the and is are my i you your to of it this that what where when how can please "
    "want would with have not do does for order help"
)
_COMMON_NL = (
    "de het een en is zijn mijn ik jij je u uw van dat dit wat waar wanneer hoe kan kun "
    "graag wil niet met voor heb heeft bestelling hulp alstublieft"
)
_DETECT = {"en": frozenset(_COMMON_EN.split()), "nl": frozenset(_COMMON_NL.split())}


def detect(text: str, *, minimum: int = 2) -> str | None:
    """The language `text` is written in, when its common words say so clearly ("en" or
    "nl"); None for short or mixed messages.

    Example:
        >>> detect("waar is mijn bestelling")
        'nl'
    """
    from dialogs.matching import words

    said = words(text)
    counts = {code: sum(w in common for w in said) for code, common in _DETECT.items()}
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= minimum and top >= 2 * second + 1:
        return best
    return None


def read_catalog(path: Path) -> dict[str, str]:
    """The translated entries of one `.po` file (untranslated and fuzzy ones left out)."""
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle)
    out: dict[str, str] = {}
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or message.fuzzy:
            continue
        if isinstance(message.string, str) and message.string:
            out[message.id] = message.string
    return out


class Catalog:
    """One language's translations: exact texts, and templates with `{placeholders}`."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self.exact = dict(entries)
        self.templates: list[tuple[re.Pattern[str], str]] = []
        for source, target in entries.items():
            names = [n for _, n, _, _ in string.Formatter().parse(source) if n]
            if names:
                self.templates.append((_template(source), target))

    def get(self, text: str) -> str | None:
        """The translation of `text`, or None."""
        found = self.exact.get(text)
        if found is not None:
            return found
        for pattern, target in self.templates:
            match = pattern.fullmatch(text)
            if match is not None:
                try:
                    return target.format(**match.groupdict())
                except (KeyError, IndexError, ValueError):
                    return None
        return None


def _template(source: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    for literal, name, _, _ in string.Formatter().parse(source):
        parts.append(re.escape(literal))
        if name:
            if name in seen:
                parts.append(f"(?P={name})")
            else:
                seen.add(name)
                parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts), re.S)


@dataclass(slots=True)
class Languages:
    """The languages a bot speaks: the default, the catalogs, an app's own `Texts` per
    language.

    Args:
        default: the language of a customer nothing is known about.
        catalogs: folders of catalogs (`<folder>/<lang>/LC_MESSAGES/*.po`), read after the
            built-in ones, so an app's entries win.
        texts: an app's own `Texts` per language; their fields replace the English `Texts`
            of the `App` for customers of that language.
        detect: take the language from what the customer writes (`detect`).
    """

    default: str = "en"
    catalogs: Iterable[str | Path] = ()
    texts: Mapping[str, Texts] = field(default_factory=dict)
    detect: bool = True
    _catalogs: dict[str, Catalog] | None = field(default=None, init=False, repr=False)

    def available(self) -> list[str]:
        """The languages with a catalog or texts, the default first."""
        found = {self.default, *self.loaded(), *self.texts}
        return [self.default, *sorted(found - {self.default})]

    def loaded(self) -> dict[str, Catalog]:
        """The catalogs per language, read once."""
        if self._catalogs is None:
            merged: dict[str, dict[str, str]] = {}
            for folder in [BUILT_IN, *(Path(f) for f in self.catalogs)]:
                if not folder.is_dir():
                    raise RegistrationError(
                        f"catalog folder {folder} does not exist: give a folder holding "
                        "<lang>/LC_MESSAGES/<domain>.po files"
                    )
                for po in sorted(folder.glob("*/LC_MESSAGES/*.po")):
                    merged.setdefault(po.parent.parent.name, {}).update(read_catalog(po))
            self._catalogs = {lang: Catalog(entries) for lang, entries in merged.items()}
        return self._catalogs

    def translate(self, text: str, language: str | None, english: Texts | None = None) -> str:
        """`text` in `language` when a catalog or the app's `Texts` for it has it; else as is.

        `english` is the app's `Texts`: a text equal to one of its fields is replaced by the
        same field of `texts[language]`."""
        if not language or language == self.default or not text:
            return text
        own = self.texts.get(language)
        if own is not None and english is not None:
            for f in fields(english):
                if getattr(english, f.name) == text:
                    value = getattr(own, f.name)
                    if value != text:
                        return str(value)
        catalog = self.loaded().get(language)
        if catalog is None:
            return text
        found = catalog.get(text)
        return found if found is not None else text

    def prompt(self, prompt: Prompt, language: str | None, english: Texts | None = None) -> Prompt:
        """`prompt` with its text and choice labels in `language`."""
        if not language or language == self.default:
            return prompt
        text = self.translate(prompt.text, language, english)
        choices = tuple(
            Choice(c.value, self.translate(c.label, language, english)) for c in prompt.choices
        )
        if text == prompt.text and choices == prompt.choices:
            return prompt
        return Prompt(text, choices, prompt.media, prompt.meta)


def language_in(memory: Mapping[str, Any], default: str) -> str:
    """The customer's language from their stored memory, or `default`."""
    value = memory.get(LANGUAGE_KEY)
    return value if isinstance(value, str) and value else default
