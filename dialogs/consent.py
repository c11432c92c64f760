"""Consent with a reason, on the flow side: the question `ctx.consent` asks, the reason
`ctx.ask(..., why=...)` shows, and the marked message that tells the privacy feature to
record an answer (`bot.privacy` records it with the purpose, time, channel and the exact
text shown; where it is not installed, nothing is recorded)."""

from __future__ import annotations

from dialogs.prompts import Choice, Prompt
from storage.consents import SERVICE, check_purpose

__all__ = [
    "CONSENT",
    "CONSENT_CHOICES",
    "GRANTED",
    "REFUSED",
    "WHY",
    "consent_prompt",
    "consent_recorded",
    "with_why",
]

CONSENT = "consent"
"""The `Prompt.meta` key of the message that records a consent answer."""
WHY = "{question}\n(Why we ask: {why})"
QUESTION = "May we send you {purpose} messages?"
CONSENT_CHOICES = (Choice("yes", "Yes, that's fine"), Choice("no", "No, thanks"))
GRANTED = "Thanks! You can say 'stop {purpose}' any time."
REFUSED = "OK, we won't."


def with_why(prompt: Prompt, why: str) -> Prompt:
    """`prompt` with the reason it is asked shown under the question."""
    if not why.strip():
        raise ValueError("why= must say why the data is asked for")
    text = WHY.format(question=prompt.text, why=why.strip())
    return Prompt(text, prompt.choices, prompt.media, prompt.meta)


def consent_prompt(purpose: str, *, why: str, question: str | None = None) -> Prompt:
    """The question `ctx.consent` asks: the question, its reason, yes and no."""
    check_purpose(purpose)
    if purpose == SERVICE:
        raise ValueError("the 'service' purpose needs no consent: do not ask for it")
    base = Prompt(question or QUESTION.format(purpose=purpose), CONSENT_CHOICES)
    return with_why(base, why)


def consent_recorded(purpose: str, granted: bool, shown: str) -> Prompt:
    """The acknowledgement sent after an answer, marked so the answer is recorded."""
    text = GRANTED.format(purpose=purpose) if granted else REFUSED
    return Prompt(text, meta={CONSENT: {"purpose": purpose, "granted": granted, "text": shown}})
