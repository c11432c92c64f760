"""What customers read about their data, and the words that ask for it (English and Dutch).

Kept in one place so a message catalog can take them over."""

from __future__ import annotations

from dialogs import consent

__all__ = [
    "CONSENT_CHOICES",
    "CONSENT_GRANTED",
    "CONSENT_QUESTION",
    "CONSENT_REFUSED",
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

# The flow side's texts (`ctx.consent`, `ctx.ask(why=...)`) live in `dialogs.consent`, which
# flows import; listed here so every customer text of privacy is found in this one module.
CONSENT_CHOICES = consent.CONSENT_CHOICES
CONSENT_GRANTED = consent.GRANTED
CONSENT_QUESTION = consent.QUESTION
CONSENT_REFUSED = consent.REFUSED
WHY = consent.WHY
