"""WhatsApp's pure parts: what a prompt becomes (buttons, a list, numbered options) and what a
webhook's fields mean (a tapped button, a list item, a location, STOP), and its settings."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from adapters.base import Choice, Location, Media, Prompt
from adapters.emulators import sms_params
from adapters.errors import BadRequest
from adapters.twilio import parse_sms
from adapters.whatsapp import WhatsAppAdapter, interactive_kind, parse_message, render_prompt


def _form(**extra: str) -> MultiDict[str]:
    params = sms_params(from_="whatsapp:+15551230001", to="whatsapp:+14155238886", body="hi")
    params.update(extra)
    return MultiDict(params)


def test_three_short_choices_are_quick_reply_buttons() -> None:
    prompt = Prompt("Pick", (Choice("y", "Yes"), Choice("n", "No")))
    [part] = render_prompt(prompt).parts
    assert part["quick_reply"] == [["y", "Yes"], ["n", "No"]]
    assert part["body"] == "Pick"
    assert part["purpose"] == "reply"


def test_up_to_ten_choices_are_a_list_and_more_are_numbered() -> None:
    four = tuple(Choice(str(i), f"Option {i}") for i in range(4))
    eleven = tuple(Choice(str(i), f"Option {i}") for i in range(11))
    assert interactive_kind(four) == "list"
    assert interactive_kind(eleven) is None
    [part] = render_prompt(Prompt("Pick", eleven)).parts
    assert part["body"].startswith("Pick\n\n1. Option 0\n2. Option 1")
    assert "list" not in part


def test_labels_too_long_for_buttons_fall_back_to_the_list_then_to_numbers() -> None:
    medium = (Choice("a", "A label of twenty-two"), Choice("b", "B"))
    long = (Choice("a", "A label that is far too long for a list"), Choice("b", "B"))
    assert interactive_kind(medium) == "list"
    assert interactive_kind(long) is None


def test_a_long_text_goes_first_and_the_buttons_come_with_its_last_part() -> None:
    prompt = Prompt("word " * 400, (Choice("y", "Yes"),), (Media("image", "https://x/a.png"),))
    parts = render_prompt(prompt).parts
    assert parts[0]["media_url"] == ["https://x/a.png"]
    assert "quick_reply" in parts[-1]
    assert all(len(p["body"]) <= 1024 for p in parts)
    assert " ".join(p["body"] for p in parts).split() == prompt.text.split()


def test_the_purpose_comes_from_the_prompt() -> None:
    [part] = render_prompt(Prompt("Your survey", meta={"purpose": "survey"})).parts
    assert part["purpose"] == "survey"


def test_a_tapped_button_is_the_choice_and_its_title_the_text() -> None:
    inbound = parse_message(_form(ButtonPayload="agent", ButtonText="Talk to a person"))
    assert (inbound.channel, inbound.identity) == ("whatsapp", "+15551230001")
    assert (inbound.choice, inbound.text) == ("agent", "Talk to a person")


def test_a_list_item_and_a_location_and_the_profile_name() -> None:
    inbound = parse_message(
        _form(
            ListId="faq",
            ListTitle="A question",
            ProfileName="Ada <b>",
            Latitude="52.37",
            Longitude="4.89",
        )
    )
    assert inbound.choice == "faq"
    assert inbound.location == Location(52.37, 4.89)
    assert inbound.display_name == "Ada <b>"


@pytest.mark.parametrize(
    "fields",
    [
        {"From": "+15551230001"},
        {"Latitude": "north", "Longitude": "4"},
        {"Latitude": "91", "Longitude": "4"},
        {"Latitude": "nan", "Longitude": "4"},
    ],
)
def test_a_sender_that_is_not_whatsapp_or_a_bad_location_is_refused(
    fields: dict[str, str],
) -> None:
    with pytest.raises(BadRequest):
        parse_message(_form(**fields))


def test_stop_is_the_opt_out_control_as_on_sms() -> None:
    assert parse_message(_form(Body="STOP")).control == "opt_out"
    assert parse_message(_form(Body="stop please")).control is None


def test_the_window_must_be_a_day_at_most() -> None:
    with pytest.raises(ValueError, match="window_hours"):
        WhatsAppAdapter("AC1", "t", "+14155238886", public_url=None, window_hours=25)
    adapter = WhatsAppAdapter("AC1", "t", "whatsapp:+14155238886", public_url=None)
    assert adapter.from_number == "whatsapp:+14155238886"


def test_the_sms_webhook_refuses_a_whatsapp_sender_instead_of_taking_it_for_a_phone() -> None:
    with pytest.raises(BadRequest, match=r"whatsapp:\.\.\. is not an SMS sender"):
        parse_sms(_form())
