"""A knowledge base from a folder of Markdown, searched offline, answering only with evidence.

Example:
    >>> kb = KnowledgeBase.from_folder("help")          # help/*.md
    >>> app = App(flows=[order_help], start=answers(kb))  # the fallback, in one line
    >>> # or inside a flow:
    >>> found = await ctx.answer_from(kb, "how long do I have to return shoes?")

The files: a heading that ends with "?" and the text under it are a question and its answer
(an FAQ); any other section is a page, split into passages of a few sentences. A file may
start with `url: https://...` (or front matter holding it): answers from it link there,
otherwise they name the file and section.

A question is compared with the FAQ's questions by the intents' matcher (`dialogs.matching`)
and with the passages by BM25 and word coverage; the best one is used only when its
confidence reaches the knowledge base's `threshold`. Otherwise the customer is offered a
person or asked to say it in other words: a weak match is never sent as an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogs import knowledge_texts as texts
from dialogs.errors import RegistrationError
from dialogs.flows import Flow, flow
from dialogs.matching import Evidence, Matcher, words
from dialogs.prompts import Choice
from dialogs.runtime import HUMAN_CHOICE

if TYPE_CHECKING:
    from dialogs.context import Context

__all__ = [
    "DEFAULT_EVIDENCE",
    "DEFAULT_RETRIEVAL",
    "Found",
    "KnowledgeBase",
    "Passage",
    "answer_from",
    "answers",
    "offer_help",
]

DEFAULT_EVIDENCE = 0.6
"""The confidence from which an answer is sent (tests/benchmarks/understanding_eval.py)."""
DEFAULT_RETRIEVAL = 0.35
"""The evidence from which a passage is given to an LLM to answer from (`dialogs.llm`)."""
_PASSAGE_WORDS = 90
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_URL_LINE = re.compile(r"^url:\s*(\S+)\s*$", re.I)
_REPHRASE = "baton:rephrase"


@dataclass(frozen=True, slots=True)
class Passage:
    """One answer or piece of a page, with where it comes from."""

    id: str
    """"file.md#section" (with "-2", "-3" for later pieces of a long section)."""
    title: str
    """The section's heading (the question of an FAQ entry)."""
    text: str
    source: str
    """The link to show: the file's `url:` (with the section), or "file.md, section"."""
    question: bool = False
    """Whether this is an FAQ answer (its heading is a question)."""


@dataclass(frozen=True, slots=True)
class Found:
    """The result of a search: the passage and how sure, or nothing strong enough."""

    passage: Passage | None
    confidence: float
    question: str

    @property
    def answered(self) -> bool:
        """Whether there is an answer to send."""
        return self.passage is not None


class KnowledgeBase:
    """Passages to answer from; see the module docstring.

    Args:
        passages: the passages (see `from_folder`).
        threshold: the confidence from which an answer is given (`DEFAULT_EVIDENCE`).
    """

    def __init__(
        self, passages: Sequence[Passage], *, threshold: float = DEFAULT_EVIDENCE
    ) -> None:
        if not passages:
            raise RegistrationError("a knowledge base needs at least one passage")
        self.passages = {p.id: p for p in passages}
        self.threshold = threshold
        self._questions = Matcher({p.id: [p.title] for p in passages if p.question})
        self._pages = Evidence({p.id: f"{p.title} {p.text}" for p in passages})

    @classmethod
    def from_folder(
        cls, folder: str | Path, *, threshold: float = DEFAULT_EVIDENCE
    ) -> KnowledgeBase:
        """Read every `*.md` file under `folder` (see the module docstring)."""
        root = Path(folder)
        if not root.is_dir():
            raise RegistrationError(f"knowledge folder {root} does not exist")
        passages: list[Passage] = []
        for path in sorted(root.rglob("*.md")):
            passages.extend(split(path.relative_to(root).as_posix(), path.read_text("utf-8")))
        if not passages:
            raise RegistrationError(f"no passages in {root}: add Markdown files (*.md)")
        return cls(passages, threshold=threshold)

    def search(self, question: str) -> Found:
        """The best passage for `question`, when the evidence is strong enough."""
        best_id, best = None, 0.0
        if words(question):
            asked = self._questions.best(question)
            if asked is not None:
                best_id, best = asked.label, asked.confidence
            for passage_id, evidence in self._pages.rank(question):
                if evidence > best:
                    best_id, best = passage_id, evidence
        if best_id is None or best < self.threshold:
            return Found(None, round(best, 3), question)
        return Found(self.passages[best_id], round(best, 3), question)

    def retrieve(
        self, question: str, limit: int = 3, floor: float = DEFAULT_RETRIEVAL
    ) -> list[dict[str, Any]]:
        """The passages most likely to answer `question` (evidence from `floor`), as JSON,
        best first: what an LLM is given to answer from."""
        scored: dict[str, float] = {}
        if words(question):
            for guess in self._questions.rank(question, limit):
                scored[guess.label] = max(scored.get(guess.label, 0.0), guess.confidence)
            for passage_id, evidence in self._pages.rank(question):
                scored[passage_id] = max(scored.get(passage_id, 0.0), evidence)
        best = sorted(scored.items(), key=lambda item: -item[1])
        return [
            {**asdict(self.passages[pid]), "evidence": round(ev, 3)}
            for pid, ev in best[:limit]
            if ev >= floor
        ]

    def lookup(self, question: str) -> dict[str, Any]:
        """`search` as JSON (what `answer_from` journals)."""
        found = self.search(question)
        return {
            "passage": asdict(found.passage) if found.passage is not None else None,
            "confidence": found.confidence,
        }


def split(name: str, markdown: str) -> list[Passage]:
    """The passages of one Markdown file."""
    lines = markdown.splitlines()
    url = None
    if lines and lines[0].strip() == "---":  # front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            for line in lines[1:end]:
                found = _URL_LINE.match(line.strip())
                if found:
                    url = found.group(1)
            lines = lines[end + 1 :]
    elif lines and _URL_LINE.match(lines[0].strip()):
        url = _URL_LINE.match(lines[0].strip()).group(1)  # type: ignore[union-attr]
        lines = lines[1:]
    sections: list[tuple[str, list[str]]] = [(Path(name).stem.replace("-", " "), [])]
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            sections.append((heading.group(2), []))
        else:
            sections[-1][1].append(line)
    out: list[Passage] = []
    for title, body in sections:
        text = "\n".join(body).strip()
        if not text:
            continue
        anchor = _anchor(title)
        source = f"{url}#{anchor}" if url else f"{name}, {title}"
        if title.rstrip().endswith("?"):
            out.append(Passage(f"{name}#{anchor}", title, text, source, question=True))
            continue
        for n, piece in enumerate(_pieces(text), start=1):
            suffix = "" if n == 1 else f"-{n}"
            out.append(Passage(f"{name}#{anchor}{suffix}", title, piece, source))
    return out


def _anchor(title: str) -> str:
    return "-".join(words(title)) or "top"


def _pieces(text: str) -> Iterable[str]:
    """Paragraphs joined up to about `_PASSAGE_WORDS` words."""
    current: list[str] = []
    size = 0
    for paragraph in re.split(r"\n\s*\n", text):
        count = len(paragraph.split())
        if current and size + count > _PASSAGE_WORDS:
            yield "\n\n".join(current)
            current, size = [], 0
        current.append(paragraph.strip())
        size += count
    if current:
        yield "\n\n".join(current)


def _reply(passage: dict[str, Any]) -> str:
    return texts.ANSWER.format(answer=passage["text"], source=passage["source"])


async def offer_help(ctx: Context, *, last: bool = False) -> str | None:
    """After no answer was found: offer a person or to ask in other words. Returns the
    question asked again, or None (a person was asked for, or the customer declined).
    `last`: the second time, offer only a person."""
    if last:
        picked = await ctx.ask(
            texts.STILL_NOT_FOUND,
            choices=[Choice(HUMAN_CHOICE, texts.A_PERSON), Choice("no", texts.NO_THANKS)],
            key="knowledge: still not found",
        )
        if picked == "no":
            await ctx.say(texts.OK)
        return None
    picked = await ctx.ask(
        texts.NOT_FOUND,
        choices=[Choice(HUMAN_CHOICE, texts.A_PERSON), Choice(_REPHRASE, texts.REPHRASE)],
        key="knowledge: not found",
    )
    if picked != _REPHRASE:  # a person is handled as the "agent" interruption is
        return None
    return await ctx.ask(texts.ASK_AGAIN, key="knowledge: asked again")


async def answer_from(ctx: Context, kb: KnowledgeBase, question: str | None = None) -> bool:
    """Answer `question` (the message that started the flow when None) from `kb`.

    Sends the passage and its source when the evidence is strong enough; otherwise offers a
    person or asks the customer to say it in other words (once), then tries again. Returns
    whether an answer was sent. The search is journaled: a replay does not search again.

    Example:
        >>> if not await ctx.answer_from(kb, "can I pay by invoice?"): ...
    """
    asked = question if question is not None else (ctx.trigger.text or "")
    for attempt in range(2):
        found = await ctx.step("answer from knowledge", kb.lookup, asked)
        if found["passage"] is not None:
            await ctx.say(_reply(found["passage"]))
            return True
        if attempt:
            break
        again = await offer_help(ctx)
        if again is None:
            return False
        asked = again
    await offer_help(ctx, last=True)
    return False


def answers(kb: KnowledgeBase, *, name: str = "knowledge") -> Flow:
    """A flow that answers the message that started it from `kb`: the start flow's fallback.

    Example:
        >>> app = App(flows=[order_help], start=answers(kb))
    """

    async def run(ctx: Context) -> None:
        await answer_from(ctx, kb)

    run.__qualname__ = name
    return flow(name=name, title="your question")(run)
