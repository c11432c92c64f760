"""The knowledge base without a server: passages from Markdown, answers only on evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs import RegistrationError
from dialogs.knowledge import KnowledgeBase, split
from examples.understanding_shop import kb

PAGE = """---
url: https://example.com/help/returns
---

# Returns

You can return anything within 30 days.

## How do I get a label?

Ask for one in My orders.
"""


def test_questions_become_faq_entries_and_sections_passages() -> None:
    passages = split("returns.md", PAGE)
    assert [(p.id, p.question, p.source) for p in passages] == [
        ("returns.md#returns", False, "https://example.com/help/returns#returns"),
        (
            "returns.md#how-do-i-get-a-label",
            True,
            "https://example.com/help/returns#how-do-i-get-a-label",
        ),
    ]


def test_without_a_url_the_source_names_the_file_and_section() -> None:
    (passage,) = split("shipping.md", "## Costs\n\nFree over 50 euro.\n")
    assert passage.source == "shipping.md, Costs"


def test_a_long_section_is_split_into_passages() -> None:
    body = "\n\n".join(" ".join(["word"] * 60) for _ in range(3))
    passages = split("long.md", f"# Long\n\n{body}\n")
    assert [p.id for p in passages] == ["long.md#long", "long.md#long-2", "long.md#long-3"]


def test_a_paraphrase_finds_its_answer_and_an_unrelated_question_none() -> None:
    found = kb.search("how much is shipping")
    assert found.passage is not None
    assert found.passage.id == "faq.md#how-much-does-shipping-cost"
    nothing = kb.search("do you sell bicycles")
    assert nothing.passage is None
    assert nothing.confidence < kb.threshold


def test_a_word_no_page_has_keeps_a_near_page_from_answering() -> None:
    assert kb.search("can I pay by invoice").passage is not None
    assert kb.search("can I pay with bitcoin").passage is None


def test_an_empty_folder_and_a_missing_one_fail_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(RegistrationError, match="no passages"):
        KnowledgeBase.from_folder(tmp_path)
    with pytest.raises(RegistrationError, match="does not exist"):
        KnowledgeBase.from_folder(tmp_path / "nope")
