"""Offline text matching: which labelled example a customer's message is closest to.

No model and no download: the message is normalised (case, accents, punctuation), the
examples that share words or word pieces with it are found with BM25 (`bm25s`, over words
and character trigrams, so "refnud" still finds "refund"), and each of those is scored with a
soft, IDF-weighted F-score over their words, where words match when they are equal or nearly so
(`rapidfuzz`). The confidence of a label is the best score of its examples, between 0 and 1:
1 for the same words, about 0.5 when half of what was said is covered.

Example:
    >>> matcher = Matcher({"refund": ["I want my money back", "refund please"]})
    >>> matcher.best("I'd like my money back please")
    Guess(label='refund', confidence=0.82, example='I want my money back')

The same matcher serves intents (`dialogs.intents`), the built-in interruptions and the
knowledge base's questions.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

__all__ = ["STOPWORDS", "Evidence", "Guess", "Matcher", "normalise", "words"]

_PUNCT = re.compile(r"[^\w\s]|_")
_APOSTROPHES = re.compile(r"(\w)['\u2019](\w)")

_STOP_EN = (
    "a an the i me my we our you your it its is am are was were be been do does did to of in "
    "on at for with and or but so that this these those there here can could would should will "
    "shall may might must have has had just please pls hi hello hey thanks thank what which "
    "how when where who why not no yes im id ive dont cant some any about from by as if then"
)
_STOP_NL = (
    "de het een ik mij me mijn wij we ons onze jij je jou jouw u uw is ben zijn was waren "
    "wordt worden te van in op aan voor met en of maar dus dat dit deze die daar hier kan kun "
    "kunnen zou zouden wil wilt willen moet moeten heb hebt heeft hebben graag alsjeblieft "
    "alstublieft aub hoi hallo dank bedankt wat welke hoe wanneer waar wie waarom niet geen ja "
    "nee er om bij al als dan nog ook even"
)
STOPWORDS: frozenset[str] = frozenset(f"{_STOP_EN} {_STOP_NL}".split())
"""Words that carry little meaning on their own, in English and Dutch (weighed less)."""

_STOP_WEIGHT = 0.25
_STEM = 0.85
"""How much two words with the same long beginning count as the same."""
_BETA2 = 1.5**2
"""F-beta with beta 1.5: covering the example counts more than the message's other words
(customers say more than the examples do: "Hello, I'd like a refund for my kettle")."""
_FUZZY_WORD = 80.0
"""Two words of 4+ letters count as the same (in part) from this `fuzz.ratio` on."""


def normalise(text: str) -> str:
    """Lower-case, accents and punctuation removed, spaces collapsed ("Café?" -> "cafe")."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = _APOSTROPHES.sub(r"\1\2", folded)  # "I'd" -> "id", "don't" -> "dont"
    return " ".join(_PUNCT.sub(" ", folded).split())


def words(text: str) -> list[str]:
    """The normalised words of `text`."""
    return normalise(text).split()


def _pieces(tokens: Sequence[str]) -> list[str]:
    """Words and the character trigrams of longer words (for typos), for BM25."""
    out = list(tokens)
    for word in tokens:
        if len(word) >= 4 and word not in STOPWORDS:
            padded = f"<{word}>"
            out.extend("~" + padded[i : i + 3] for i in range(len(padded) - 2))
    return out


@dataclass(frozen=True, slots=True)
class Guess:
    """A label with its confidence (0..1) and the example that matched best."""

    label: str
    confidence: float
    example: str = ""


@dataclass(frozen=True, slots=True)
class _Example:
    label: str
    text: str
    words: tuple[str, ...]
    weights: tuple[float, ...]
    total: float


class Matcher:
    """Finds the label whose examples a message is closest to (see the module docstring).

    Args:
        examples: each label's example messages.
        candidates: how many examples BM25 hands to the fine scoring.
    """

    def __init__(self, examples: Mapping[str, Iterable[str]], *, candidates: int = 12) -> None:
        rows: list[tuple[str, str, list[str]]] = []
        for label, texts in examples.items():
            for text in texts:
                tokens = words(text)
                if tokens:
                    rows.append((label, text, tokens))
        self.labels: tuple[str, ...] = tuple(examples)
        self._candidates = candidates
        # How rare a word is among the labels (not the examples: a word in every example of
        # one label is that label's best clue).
        per_label: dict[str, set[str]] = {}
        for label, _, tokens in rows:
            per_label.setdefault(label, set()).update(tokens)
        frequency: Counter[str] = Counter()
        for vocabulary in per_label.values():
            frequency.update(vocabulary)
        count = max(len(per_label), 1)
        self._idf = {w: math.log(1 + count / n) for w, n in frequency.items()}
        # A word no example has tells little about which label is meant: weigh it as an
        # ordinary word, not as the rarest one.
        self._unknown = sum(self._idf.values()) / len(self._idf) if self._idf else 1.0
        self._examples = [self._example(label, text, tokens) for label, text, tokens in rows]
        self._exact = {" ".join(e.words): e for e in self._examples}
        self._bm25: Any = None
        if rows:
            # Imported here: numpy and bm25s cost a third of a second, paid by bots that match.
            import bm25s
            import numpy

            self._np = numpy
            self._bm25 = bm25s.BM25()
            self._bm25.index([_pieces(tokens) for _, _, tokens in rows], show_progress=False)
            self._vocab = self._bm25.vocab_dict
        self._last: tuple[str, list[Guess]] | None = None

    def _weight(self, word: str) -> float:
        if word.isdigit():
            return 0.0  # order numbers and amounts say nothing about what is meant
        weight = self._idf.get(word, self._unknown)
        return weight * _STOP_WEIGHT if word in STOPWORDS else weight

    def _example(self, label: str, text: str, tokens: list[str]) -> _Example:
        weights = tuple(self._weight(w) for w in tokens)
        return _Example(label, text, tuple(tokens), weights, sum(weights))

    def __len__(self) -> int:
        return len(self._examples)

    def rank(self, text: str, limit: int = 3) -> list[Guess]:
        """The best labels for `text`, most confident first (at most `limit`)."""
        if self._last is not None and self._last[0] == text:
            return self._last[1][:limit]
        guesses = self._rank(text)
        self._last = (text, guesses)
        return guesses[:limit]

    def best(self, text: str) -> Guess | None:
        """The most confident label for `text`, or None when nothing is alike."""
        ranked = self.rank(text, 1)
        return ranked[0] if ranked else None

    def _rank(self, text: str) -> list[Guess]:
        tokens = words(text)
        if not tokens or self._bm25 is None:
            return []
        exact = self._exact.get(" ".join(tokens))
        if exact is not None:
            return [Guess(exact.label, 1.0, exact.text)]
        query = [p for p in _pieces(tokens) if p in self._vocab]
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        k = min(self._candidates, len(scores))
        top = self._np.argpartition(-scores, k - 1)[:k]
        weights = [self._weight(w) for w in tokens]
        total = sum(weights)
        # Per label: how much of the message its examples cover (precision, over all its
        # candidates) and how much of its best example the message covers (recall).
        covered: dict[str, list[float]] = {}
        recall: dict[str, tuple[float, str]] = {}
        for index in top:
            if scores[index] <= 0:
                continue
            example = self._examples[int(index)]
            per_word, example_recall = _cover(tokens, example)
            known = covered.get(example.label)
            if known is None:
                covered[example.label] = per_word
            else:
                covered[example.label] = [max(a, b) for a, b in zip(known, per_word, strict=True)]
            best_recall = recall.get(example.label)
            if best_recall is None or example_recall > best_recall[0]:
                recall[example.label] = (example_recall, example.text)
        guesses = []
        for label, per_word in covered.items():
            precision = (
                sum(c * w for c, w in zip(per_word, weights, strict=True)) / total
                if total
                else 0.0
            )
            r, example_text = recall[label]
            guesses.append(Guess(label, round(_f_score(precision, r), 3), example_text))
        return sorted(guesses, key=lambda g: -g.confidence)


def _cover(tokens: list[str], example: _Example) -> tuple[list[float], float]:
    """How well each word of the message is matched in `example` (0..1), and the weighted
    share of the example's words the message matches; near-equal words count in part."""
    ratio = fuzz.ratio
    seen = [0.0] * len(example.words)
    per_word = []
    for q in tokens:
        found = 0.0
        for i, e in enumerate(example.words):
            if q == e:
                sim = 1.0
            elif len(q) >= 4 and len(e) >= 4:  # short words count only when equal
                sim = ratio(q, e, score_cutoff=_FUZZY_WORD) / 100.0
                if sim < _STEM and _same_stem(q, e):
                    sim = _STEM
            else:
                continue
            found = max(found, sim)
            seen[i] = max(seen[i], sim)
        per_word.append(found)
    covered = sum(s * w for s, w in zip(seen, example.weights, strict=True))
    return per_word, covered / example.total if example.total else 0.0


def _f_score(precision: float, recall: float) -> float:
    if precision + recall == 0:
        return 0.0
    return (1 + _BETA2) * precision * recall / (_BETA2 * precision + recall)


def _same_stem(a: str, b: str) -> bool:
    """Whether two words share a long beginning ("reimbursement", "reimbursed")."""
    shorter = min(len(a), len(b))
    n = 0
    while n < shorter and a[n] == b[n]:
        n += 1
    return n >= 5 and n >= 0.7 * shorter


class Evidence:
    """How much of a question each of some longer texts (passages) speaks of.

    BM25 finds the passages sharing words or word pieces with the question; each is scored by
    the share of the question's words it has (equal or nearly so), weighted by how rare each
    word is among the passages. A word no passage has weighs as the rarest: "Can I pay with
    bitcoin?" is not answered by the page about paying by invoice.
    """

    def __init__(self, passages: Mapping[str, str], *, candidates: int = 5) -> None:
        import bm25s

        self.ids = list(passages)
        self._candidates = candidates
        self._words = [tuple(dict.fromkeys(words(t))) for t in passages.values()]
        frequency: Counter[str] = Counter()
        for vocabulary in self._words:
            frequency.update(vocabulary)
        count = max(len(self._words), 1)
        self._idf = {w: math.log(1 + count / n) for w, n in frequency.items()}
        self._rarest = math.log(1 + count)
        self._bm25 = bm25s.BM25()
        self._bm25.index([_pieces(list(w)) or ["~"] for w in self._words], show_progress=False)
        self._vocab = self._bm25.vocab_dict

    def _weight(self, word: str) -> float:
        if word.isdigit():
            return 0.0
        if word in STOPWORDS:
            return _STOP_WEIGHT * self._idf.get(word, 1.0)
        return self._idf.get(word, self._rarest)

    def rank(self, question: str) -> list[tuple[str, float]]:
        """(passage id, evidence 0..1) of the likeliest passages, best first."""
        asked = words(question)
        query = [p for p in _pieces(asked) if p in self._vocab]
        weights = [self._weight(w) for w in asked]
        total = sum(weights)
        if not query or not total:
            return []
        import numpy

        scores = self._bm25.get_scores(query)
        k = min(self._candidates, len(scores))
        top = numpy.argpartition(-scores, k - 1)[:k]
        out = []
        for index in top:
            if scores[index] <= 0:
                continue
            passage = self._words[int(index)]
            example = _Example("", "", passage, tuple(1.0 for _ in passage), float(len(passage)))
            per_word, _ = _cover(asked, example)
            covered = sum(c * w for c, w in zip(per_word, weights, strict=True)) / total
            out.append((self.ids[int(index)], round(covered, 3)))
        return sorted(out, key=lambda item: -item[1])
