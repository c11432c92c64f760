"""The customer's language and the catalogs, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.understanding import texts as understanding_texts
from bot.understanding.catalogs import messages, messages_of
from dialogs import App, RegistrationError
from dialogs.flows import Texts
from dialogs.languages import BUILT_IN, Catalog, Languages, detect, read_catalog
from dialogs.prompts import Choice, Prompt


def test_every_built_in_text_has_a_dutch_translation() -> None:
    dutch = read_catalog(BUILT_IN / "nl" / "LC_MESSAGES" / "baton.po")
    missing = [m for m in messages() if m not in dutch]
    assert missing == []


def test_the_template_file_lists_every_built_in_text() -> None:
    with (BUILT_IN / "baton.pot").open("rb") as handle:
        template = read_po(handle)
    assert [m.id for m in template if m.id] == messages()


def test_filled_in_templates_are_translated_with_their_values() -> None:
    catalog = Catalog({"You're number {position} in the queue.": "Je bent nummer {position}."})
    assert catalog.get("You're number 3 in the queue.") == "Je bent nummer 3."
    assert catalog.get("You're number in the queue.") is None
    assert catalog.get("Something else entirely") is None


def test_a_prompt_is_translated_with_its_choices_and_keeps_its_values() -> None:
    languages = Languages()
    prompt = Prompt("Do you want to stop your order and start refund?", (Choice("y", "Yes"),))
    done = languages.prompt(prompt, "nl")
    assert (done.text, done.choices) == (
        "Wil je stoppen met your order en beginnen met refund?",
        (Choice("y", "Ja"),),
    )
    assert languages.prompt(prompt, "en") is prompt
    assert languages.prompt(prompt, "fr") == prompt  # no catalog: as written


def test_an_app_s_own_texts_win_over_the_catalog() -> None:
    own = Languages(texts={"nl": Texts(cancelled="Gestopt.")})
    english = Texts()
    assert own.translate(english.cancelled, "nl", english) == "Gestopt."
    assert own.translate(english.pick_a_choice, "nl", english) == "Kies een van de opties."


def test_an_app_adds_a_language_with_a_catalog_file(tmp_path: Path) -> None:
    folder = tmp_path / "locale" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "shop.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Please pick one of the options."\nmsgstr "Bitte wählen Sie eine Option."\n',
        encoding="utf-8",
    )
    languages = Languages(catalogs=[tmp_path / "locale"])
    assert languages.available() == ["en", "de", "nl"]
    assert languages.translate("Please pick one of the options.", "de") == (
        "Bitte wählen Sie eine Option."
    )


def test_a_missing_catalog_folder_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(RegistrationError, match="does not exist"):
        App(languages=Languages(catalogs=[tmp_path / "nowhere"])).languages.loaded()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("waar is mijn bestelling", "nl"),
        ("ik wil graag een medewerker", "nl"),
        ("where is my order", "en"),
        ("I want to talk to a person", "en"),
        ("hi", None),
        ("Ada", None),
        ("12345678", None),
    ],
)
def test_the_language_a_customer_writes_in(text: str, language: str | None) -> None:
    assert detect(text) == language


def test_a_feature_texts_module_is_translatable_by_its_string_constants() -> None:
    found = messages_of(understanding_texts)
    assert understanding_texts.DID_YOU_MEAN in found
    assert understanding_texts.NONE_OF_THESE_CHOICE not in found  # a button value
