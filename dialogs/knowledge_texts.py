"""What customers read when the bot answers from a knowledge base (`dialogs.knowledge`);
translated through the catalogs like Baton's other texts."""

from __future__ import annotations

__all__ = [
    "ANSWER",
    "ASK_AGAIN",
    "A_PERSON",
    "NOT_FOUND",
    "NO_THANKS",
    "OK",
    "REPHRASE",
    "STILL_NOT_FOUND",
]

ANSWER = "{answer}\n\nSource: {source}"
NOT_FOUND = (
    "I couldn't find an answer to that in our help pages. Would you like to talk to a "
    "person, or ask in other words?"
)
A_PERSON = "Talk to a person"
REPHRASE = "Ask in other words"
ASK_AGAIN = "Sure. What would you like to know?"
STILL_NOT_FOUND = "I still couldn't find an answer. Shall I ask a person from our team?"
NO_THANKS = "No, thanks"
OK = "OK. Just write if there's anything else."
