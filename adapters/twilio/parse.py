"""Twilio webhooks -> `Inbound` and `DeliveryUpdate`: pure functions, no I/O.

An inbound SMS is a form: its sender is normalised to E.164, its media listed, and the opt-out
words Twilio itself honours (STOP, START, ...) become `Inbound.control`.
"""

from __future__ import annotations

import phonenumbers
from multidict import MultiDict

from adapters.base import DeliveryUpdate, Inbound, Media
from adapters.errors import BadRequest

__all__ = [
    "MAX_MEDIA",
    "OPT_IN_WORDS",
    "OPT_OUT_WORDS",
    "control_word",
    "normalise_number",
    "parse_sms",
    "parse_status",
]

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
"""Single-word messages Twilio treats as an opt-out (it answers them itself)."""
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
"""Single-word messages that opt a number back in."""
MAX_MEDIA = 10
"""Twilio's limit of MediaUrl per message."""
_OPT_OUT_TYPES = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}


def control_word(body: str | None, opt_out_type: str | None = None) -> str | None:
    """The control an inbound SMS carries: "opt_out", "opt_in", "help" or None.

    `OptOutType` (Advanced Opt-Out) wins when present; otherwise a single-word message in
    `OPT_OUT_WORDS` or `OPT_IN_WORDS`, any case. HELP/INFO bodies are ordinary text.
    """
    if opt_out_type:
        found = _OPT_OUT_TYPES.get(opt_out_type.strip().upper())
        if found is not None:
            return found
    word = (body or "").strip().upper()
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None


def normalise_number(raw: str) -> str:
    """E.164 for a phone number; other senders (short codes, "channel:+1...") keep a form
    replies can go back to."""
    value = raw.strip()
    prefix, colon, number = value.rpartition(":")
    try:
        parsed = phonenumbers.parse(number if colon else value, None)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return f"{prefix}:{e164}" if colon else e164


def parse_sms(form: MultiDict[str]) -> Inbound:
    """An inbound-SMS webhook's fields as an `Inbound`; raises `BadRequest`."""
    sid, sender = form.get("MessageSid", ""), form.get("From", "")
    if not sid or not sender.strip():
        raise BadRequest("MessageSid and From are required")
    if ":" in sender:  # "<channel>:+1..." is another Twilio channel's sender, not a phone
        raise BadRequest(
            f"From {sender.partition(':')[0]}:... is not an SMS sender: point that sender's "
            "webhook at its own channel's path (see the channel registry)"
        )
    body = form.get("Body", "")
    try:
        count = min(int(form.get("NumMedia", "0") or "0"), MAX_MEDIA)
    except ValueError:
        raise BadRequest("NumMedia must be a number") from None
    media = []
    for index in range(max(0, count)):
        url = form.get(f"MediaUrl{index}")
        if url:
            mime = form.get(f"MediaContentType{index}") or None
            media.append(Media(_media_kind(mime), url, mime))
    raw = {
        k: form[k]
        for k in (
            "MessageSid",
            "AccountSid",
            "From",
            "To",
            "NumMedia",
            "NumSegments",
            "MessagingServiceSid",
            "OptOutType",
        )
        if k in form
    }
    return Inbound(
        channel="twilio",
        message_id=sid,
        identity=normalise_number(sender),
        text=body or None,
        media=tuple(media),
        control=control_word(body, form.get("OptOutType")),
        raw=raw,
    )


def parse_status(form: MultiDict[str]) -> DeliveryUpdate:
    """A status callback's fields as a `DeliveryUpdate`; raises `BadRequest`."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or len(sid) > 255 or not status or len(status) > 32:
        raise BadRequest("MessageSid and MessageStatus are required")
    return DeliveryUpdate("twilio", sid, status, form.get("ErrorCode") or None)


def _media_kind(mime: str | None) -> str:
    major = (mime or "").partition("/")[0]
    return major if major in ("image", "audio", "video") else "document"
