"""What customers read about their data, and the words that ask for it (English and Dutch).

Kept in one place so a message catalog can take them over."""

from __future__ import annotations

__all__ = [
    "CONSENT_NO",
    "CONSENT_NO_LABEL",
    "CONSENT_QUESTION",
    "CONSENT_YES",
    "CONSENT_YES_LABEL",
    "ERASE_CANCELLED",
    "ERASE_CHOICE",
    "ERASE_CONFIRM",
    "ERASE_DONE",
    "ERASE_KEEP_CHOICE",
    "ERASE_KEEP_LABEL",
    "ERASE_WORDS",
    "ERASE_YES_LABEL",
    "EXPORT_LINK",
    "EXPORT_NO_URL",
    "EXPORT_WORDS",
    "WHY",
    "WITHDRAWN",
    "WITHDRAW_WORDS",
]

ERASE_WORDS = (
    "forget me",
    "delete my data",
    "erase my data",
    "vergeet mij",
    "verwijder mijn gegevens",
)
"""Messages that ask for erasure (case-insensitive, whole message)."""
EXPORT_WORDS = ("send me my data", "my data", "download my data", "mijn gegevens")
"""Messages that ask for an export (case-insensitive, whole message)."""
WITHDRAW_WORDS: dict[str, str] = {
    "stop marketing": "marketing",
    "no more marketing": "marketing",
    "geen reclame meer": "marketing",
    "stop reclame": "marketing",
    "stop surveys": "surveys",
    "geen enquetes meer": "surveys",
}
"""Messages that withdraw a consent, and its purpose."""

ERASE_CHOICE = "privacy_erase"
ERASE_KEEP_CHOICE = "privacy_keep"
ERASE_YES_LABEL = "Yes, erase everything"
ERASE_KEEP_LABEL = "No, keep my data"
ERASE_CONFIRM = (
    "Do you want us to erase everything we hold about you: your messages on every channel, "
    "what you told us and your settings? This cannot be undone."
)
ERASE_DONE = "Done: we erased your data. If you write again, we start from scratch."
ERASE_CANCELLED = "OK, nothing was erased."

EXPORT_LINK = (
    "Here is a link to your data. It works once, for {minutes} minutes, and only for you: {url}"
)
EXPORT_NO_URL = "We can't make a download link here. Please ask our team for a copy of your data."

WITHDRAWN = "Done: no more {purpose} messages. You can change your mind any time."

WHY = "{question}\n(Why we ask: {why})"
"""A question with the reason it is asked (`ctx.ask(..., why=...)`)."""
CONSENT_QUESTION = "{question}\n(Why we ask: {why})"
CONSENT_YES = "yes"
CONSENT_NO = "no"
CONSENT_YES_LABEL = "Yes, that's fine"
CONSENT_NO_LABEL = "No, thanks"
