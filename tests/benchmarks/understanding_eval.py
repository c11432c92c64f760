"""The understanding evaluation: how often the offline matcher is right, and what it costs.

    python -m tests.benchmarks.understanding_eval

Prints, for messages that no example was written from (tests/benchmarks/data/), a table of
the intent matcher's accuracy and false-match rate at the default threshold (and around it),
the knowledge base's answer precision and refusal rate, and the matcher's CPU time per message
with 100 intents of 20 examples each. A benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dialogs.intents import DEFAULT_THRESHOLD, IntentSet
from dialogs.interruptions import Interruptions
from dialogs.knowledge import DEFAULT_EVIDENCE, KnowledgeBase
from examples.understanding_shop import app, kb

DATA = Path(__file__).parent / "data"


def load(name: str) -> list[tuple[str, str]]:
    """(expected, text) rows of a TSV file of the evaluation set."""
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, text = line.split("\t", 1)
            rows.append((expected, text))
    return rows


@dataclass
class Score:
    """Counts of one run over the evaluation set."""

    total: int = 0
    right: int = 0
    false_match: int = 0
    """A message that started the wrong thing (a wrong intent, or one when none was meant)."""
    missed: int = 0
    """A message meant for an intent that started nothing."""

    def line(self, name: str) -> str:
        """One row of the table."""
        return (
            f"| {name} | {self.total} | {self.right / self.total:.1%} | "
            f"{self.false_match / self.total:.1%} | {self.missed / self.total:.1%} |"
        )


def intent_score(rows: list[tuple[str, str]], threshold: float) -> tuple[Score, list[str]]:
    """How the runtime's order (interruptions, then the app's intents) labels each row."""
    intents = IntentSet.of(app)
    interruptions = Interruptions()
    score = Score()
    wrong: list[str] = []
    for expected, text in rows:
        got = interruptions.classify(text)
        if got is None:
            guess = intents.best(text)
            if guess is not None and guess.confidence >= threshold:
                got = guess.label
        got = got or "none"
        score.total += 1
        if got == expected:
            score.right += 1
            continue
        wrong.append(f"{expected:>12} -> {got:<12} {text}")
        if got != "none":
            score.false_match += 1
        else:
            score.missed += 1
    return score, wrong


def knowledge_score(rows: list[tuple[str, str]], threshold: float) -> tuple[str, list[str]]:
    """One table row for the knowledge base at `threshold`, and the rows it got wrong."""
    base = KnowledgeBase(list(kb.passages.values()), threshold=threshold)
    answered = correct = refused = refused_answerable = 0
    wrong: list[str] = []
    for expected, text in rows:
        found = base.search(text)
        got = found.passage.id if found.passage is not None else "none"
        if got == "none":
            refused += 1
            refused_answerable += expected != "none"
        else:
            answered += 1
            correct += got == expected
        if got != expected:
            wrong.append(f"{found.confidence:.2f} {expected:>40} -> {got:<40} {text}")
    total = len(rows)
    answerable = sum(1 for expected, _ in rows if expected != "none")
    precision = correct / answered if answered else 1.0
    return (
        f"| {threshold} | {total} | {answered} | {precision:.1%} | {refused / total:.1%} | "
        f"{refused_answerable / answerable:.1%} |",
        wrong,
    )


def synthetic_intents(count: int = 100, per: int = 20, seed: int = 7) -> dict[str, list[str]]:
    """`count` intents of `per` examples each, from a fixed vocabulary (for the CPU figure)."""
    rng = random.Random(seed)
    verbs = [
        "want",
        "need",
        "like",
        "get",
        "change",
        "cancel",
        "track",
        "return",
        "order",
        "book",
        "pay",
        "find",
        "send",
        "check",
    ]
    nouns = [f"item{i}" for i in range(300)]
    fillers = [
        "i",
        "my",
        "the",
        "a",
        "please",
        "could",
        "you",
        "can",
        "for",
        "with",
        "about",
        "now",
        "today",
    ]
    out: dict[str, list[str]] = {}
    for i in range(count):
        topic = rng.sample(nouns, 3)
        out[f"intent{i}"] = [
            " ".join(
                [*rng.sample(fillers, 3), rng.choice(verbs), rng.choice(topic), rng.choice(nouns)]
            )
            for _ in range(per)
        ]
    return out


def cpu_per_message(
    messages: list[str], rounds: int = 5, *, with_interruptions: bool = False
) -> tuple[float, float]:
    """CPU microseconds per message (median, worst round) with 100 intents x 20 examples;
    `with_interruptions`: the built-in interruptions' check first, as a turn does."""
    from dialogs.matching import Matcher

    matcher = Matcher(synthetic_intents())
    uncached: Callable[[str], object] = matcher._rank  # every message is new
    interruptions = Interruptions()

    def both(text: str) -> object:
        interruptions.classify(text + " ")  # past the one-message cache
        return uncached(text)

    rank = both if with_interruptions else uncached
    per_round = []
    for _ in range(rounds):
        start = time.process_time()
        for text in messages:
            rank(text)
        per_round.append((time.process_time() - start) / len(messages) * 1e6)
    per_round.sort()
    return per_round[len(per_round) // 2], per_round[-1]


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wrong", action="store_true", help="list the messages labelled wrong")
    args = parser.parse_args()
    rows = load("intents_eval.tsv")
    print(
        f"Intent matcher, {len(rows)} messages (EN and NL), default threshold {DEFAULT_THRESHOLD}"
    )
    print("| threshold | messages | accuracy | false-match rate | missed |")
    print("|---|---|---|---|---|")
    for threshold in sorted({0.5, DEFAULT_THRESHOLD, 0.6, 0.65, 0.7}):
        score, wrong = intent_score(rows, threshold)
        mark = " (default)" if threshold == DEFAULT_THRESHOLD else ""
        print(score.line(f"{threshold}{mark}"))
        if args.wrong and threshold == DEFAULT_THRESHOLD:
            keep = wrong
    if args.wrong:
        print("\n".join(keep))
    questions = load("knowledge_eval.tsv")
    print()
    print(
        f"Knowledge base, {len(questions)} questions (EN and NL; "
        f"{sum(1 for e, _ in questions if e == 'none')} with no answer in the pages), "
        f"default threshold {DEFAULT_EVIDENCE}"
    )
    print("| threshold | questions | answered | precision | refusal rate | answerable refused |")
    print("|---|---|---|---|---|---|")
    for threshold in sorted({0.5, 0.55, DEFAULT_EVIDENCE, 0.65, 0.7}):
        line, wrong_answers = knowledge_score(questions, threshold)
        print(
            line.replace(f"| {threshold} |", f"| {threshold} (default) |", 1)
            if threshold == DEFAULT_EVIDENCE
            else line
        )
        if args.wrong and threshold == DEFAULT_EVIDENCE:
            print("\n".join(wrong_answers))
    texts = [text for _, text in rows]
    print()
    print("Matcher CPU per message, 100 intents x 20 examples (process time, 5 rounds)")
    print("| what | messages | median | worst round | target |")
    print("|---|---|---|---|---|")
    median, worst = cpu_per_message(texts)
    print(f"| intents | {len(texts)} | {median:.0f} us | {worst:.0f} us | < 1000 us |")
    median, worst = cpu_per_message(texts, with_interruptions=True)
    print(
        f"| interruptions + intents | {len(texts)} | {median:.0f} us | {worst:.0f} us "
        "| < 1000 us |"
    )


if __name__ == "__main__":
    main()
