"""WhatsApp webhooks (through Twilio) -> `Inbound`: pure functions, no I/O.

The form is an inbound SMS's with more fields: the sender is "whatsapp:+E164" (the identity is
the plain E.164 number, so linking by phone works as on SMS), `ProfileName`, `WaId`, a pressed
quick-reply button (`ButtonPayload`, `ButtonText`), a list item (`ListId`, `ListTitle`) and a
shared location (`Latitude`, `Longitude`). Media and STOP/START words are read as on SMS.
"""

from __future__ import annotations

import dataclasses
import math

from multidict import MultiDict

from adapters.base import DeliveryUpdate, Inbound, Location
from adapters.errors import BadRequest
from adapters.twilio import normalise_number, parse_sms, parse_status

__all__ = ["PREFIX", "address_of", "parse_message", "parse_status_update"]

PREFIX = "whatsapp:"
"""How Twilio writes a WhatsApp number in `From` and `To`."""
_RAW = ("ProfileName", "WaId", "ButtonPayload", "ListId", "Latitude", "Longitude")


def address_of(number: str) -> str:
    """ "whatsapp:+E164" for an E.164 number (or one already prefixed)."""
    return number if number.startswith(PREFIX) else PREFIX + number


def parse_message(form: MultiDict[str]) -> Inbound:
    """An inbound WhatsApp webhook's fields as an `Inbound`; raises `BadRequest`.

    A pressed quick-reply button or list item is `Inbound.choice` (its id, the choice value the
    adapter rendered); its title is the text.
    """
    sender = form.get("From", "").strip()
    if not sender.startswith(PREFIX) or len(sender) > 64:
        raise BadRequest('From must be a WhatsApp sender, "whatsapp:+<number>"')
    plain = form.copy()
    plain["From"] = sender[len(PREFIX) :]
    sms = parse_sms(plain)
    identity = normalise_number(plain["From"])
    choice = (form.get("ButtonPayload") or form.get("ListId") or "").strip() or None
    text = sms.text
    if choice is not None:
        text = form.get("ButtonText") or form.get("ListTitle") or text
    raw = dict(sms.raw)
    raw.update({k: form[k] for k in _RAW if k in form})
    return dataclasses.replace(
        sms,
        channel="whatsapp",
        identity=identity,
        text=text,
        choice=choice,
        location=_location(form),
        display_name=(form.get("ProfileName") or "").strip()[:255] or None,
        control=None if choice is not None else sms.control,
        raw=raw,
    )


def parse_status_update(form: MultiDict[str]) -> DeliveryUpdate:
    """A status callback's fields as a `DeliveryUpdate` of this channel; raises `BadRequest`."""
    return dataclasses.replace(parse_status(form), channel="whatsapp")


def _location(form: MultiDict[str]) -> Location | None:
    if "Latitude" not in form or "Longitude" not in form:
        return None
    try:
        latitude, longitude = float(form["Latitude"]), float(form["Longitude"])
    except ValueError:
        raise BadRequest("Latitude and Longitude must be numbers") from None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise BadRequest("Latitude and Longitude must be finite")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise BadRequest("Latitude or Longitude out of range")
    return Location(latitude, longitude)
