"""What customers read from the understanding feature (translated through the catalogs,
see `bot.understanding.languages`)."""

from __future__ import annotations

__all__ = ["DID_YOU_MEAN", "NONE_OF_THESE", "NONE_OF_THESE_CHOICE", "REPHRASE"]

DID_YOU_MEAN = "I'm not sure I understood. Did you mean one of these?"
NONE_OF_THESE = "Something else"
NONE_OF_THESE_CHOICE = "baton:intent:none"
"""The button value of "Something else" under "Did you mean ...?"."""
REPHRASE = "OK. Could you tell me in other words what you need?"
