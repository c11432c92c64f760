"""What follow-up says to customers, in one place (surveys). Catalogs for other languages
translate these strings."""

from __future__ import annotations

__all__ = [
    "COMMENT",
    "COMMENT_SKIP_WORDS",
    "LOW_SCORE_REASON",
    "LOW_SCORE_REPLY",
    "QUESTIONS",
    "SCORE_RANGE",
    "THANKS",
]

QUESTIONS = {
    "csat": (
        "How satisfied are you with the help you got? 1 = very unsatisfied, 5 = very satisfied."
    ),
    "ces": "How easy was it to get what you needed? 1 = very hard, 7 = very easy.",
    "nps": (
        "How likely are you to recommend us to a friend or colleague? Reply with a number "
        "from 0 (not at all likely) to 10 (extremely likely)."
    ),
}
"""The question of each survey kind."""

SCORE_RANGE = "Please answer with a number from {low} to {high}."
"""The re-prompt of a score that is not a number in range."""

COMMENT = "Thank you! Anything you'd like to tell us? Write it here, or reply 'skip'."
COMMENT_SKIP_WORDS = ("skip", "no", "nope", "no thanks", "nothing", "-", "none")
THANKS = "Thanks for your feedback!"
LOW_SCORE_REPLY = "We're sorry it wasn't better. A person from our team will look into it."
LOW_SCORE_REASON = "low {kind} score {score}/{high} in the survey{comment}"
"""The reason a reopened conversation waits with, for the agent's queue."""
