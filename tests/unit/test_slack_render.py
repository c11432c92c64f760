"""The Slack adapter's pure parts: Block Kit rendering, event parsing, error mapping."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.base import Choice, Media, Prompt, Rendered
from adapters.errors import RateLimited, SendError, Unreachable
from adapters.slack import (
    SlackAdapter,
    action_inbound,
    escape,
    event_inbound,
    render,
)
from adapters.slack.adapter import send_error

BOT_USER = "U0BOT0001"
BOT = "B0BOT0001"


def actions(rendered: Rendered) -> list[dict[str, Any]]:
    return [b for part in rendered.parts for b in part["blocks"] if b["type"] == "actions"]


def sections(rendered: Rendered) -> list[str]:
    return [
        b["text"]["text"]
        for part in rendered.parts
        for b in part["blocks"]
        if b["type"] == "section"
    ]


# --- render ----------------------------------------------------------------------------------


def test_text_is_escaped_so_it_cannot_mention_or_link() -> None:
    rendered = render(Prompt("Hi <@U0456> & <!channel>, see <https://evil.example|this> > x"))
    expected = (
        "Hi &lt;@U0456&gt; &amp; &lt;!channel&gt;, see &lt;https://evil.example|this&gt; &gt; x"
    )
    assert rendered.parts == (
        {
            "text": expected,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": expected}}],
        },
    )


def test_escape_handles_ampersand_first() -> None:
    assert escape("&lt; <") == "&amp;lt; &lt;"


def test_each_choice_is_a_button_with_its_value() -> None:
    prompt = Prompt(
        "Pick one", choices=(Choice("track", "Track it"), Choice("a<b&c>", "Odd <value> & label"))
    )
    (part,) = render(prompt).parts
    assert part["text"] == "Pick one"
    assert part["blocks"][1] == {
        "type": "actions",
        "block_id": "choices",
        "elements": [
            {
                "type": "button",
                "action_id": "choice:0",
                "value": "track",
                "text": {"type": "plain_text", "text": "Track it", "emoji": True},
            },
            {
                "type": "button",
                "action_id": "choice:1",
                "value": "a<b&c>",
                "text": {"type": "plain_text", "text": "Odd <value> & label", "emoji": True},
            },
        ],
    }


def test_long_labels_are_cut_to_75_characters() -> None:
    (block,) = actions(render(Prompt("?", choices=(Choice("v", "x" * 100),))))
    label = block["elements"][0]["text"]["text"]
    assert len(label) == 75
    assert label.endswith("…")


def test_many_choices_are_25_buttons_per_actions_block() -> None:
    choices = tuple(Choice(f"v{i}", f"Option {i}") for i in range(30))
    blocks = actions(render(Prompt("Pick", choices=choices)))
    assert [len(b["elements"]) for b in blocks] == [25, 5]
    assert len({b["block_id"] for b in blocks}) == 2
    ids = [e["action_id"] for b in blocks for e in b["elements"]]
    assert ids == [f"choice:{i}" for i in range(30)]
    assert [e["value"] for b in blocks for e in b["elements"]] == [c.value for c in choices]


def test_over_100_choices_are_listed_as_text() -> None:
    choices = tuple(Choice(f"v{i}", f"Option {i}") for i in range(101))
    rendered = render(Prompt("Pick", choices=choices))
    assert actions(rendered) == []
    assert "101. Option 100" in "\n".join(sections(rendered))


def test_no_choices_no_actions_block() -> None:
    assert actions(render(Prompt("Just text"))) == []


def test_choices_without_text_still_have_a_fallback() -> None:
    (part,) = render(Prompt("", choices=(Choice("yes", "Yes"), Choice("no", "No")))).parts
    assert part["text"] == "1. Yes\n2. No"
    assert [b["type"] for b in part["blocks"]] == ["actions"]


def test_long_text_is_split_into_3000_character_sections() -> None:
    text = " ".join(["word"] * 1500)  # 7,499 characters
    rendered = render(Prompt(text, choices=(Choice("ok", "OK"),)))
    assert len(rendered.parts) == 1
    parts = sections(rendered)
    assert len(parts) == 3
    assert all(len(p) <= 3000 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_very_long_text_is_split_into_messages_under_40000() -> None:
    text = " ".join(["word"] * 25_000)  # 124,999 characters
    rendered = render(Prompt(text, choices=(Choice("ok", "OK"),)))
    assert len(rendered.parts) > 3
    for part in rendered.parts:
        assert len(part["text"]) <= 40_000
        assert len(part["blocks"]) <= 50
        assert all(
            len(b["text"]["text"]) <= 3000 for b in part["blocks"] if b["type"] == "section"
        )
    assert [bool(actions(Rendered((p,)))) for p in rendered.parts] == (
        [False] * (len(rendered.parts) - 1) + [True]
    )
    words = " ".join(sections(rendered)).split()
    assert words == text.split()


def test_escaping_never_pushes_a_section_over_3000() -> None:
    text = "&" * 3000 + " <" * 1000
    parts = sections(render(Prompt(text)))
    assert all(len(p) <= 3000 for p in parts)
    joined = "".join(parts).replace(" ", "")
    assert joined == escape(text.replace(" ", ""))


def test_media_is_linked_in_the_text() -> None:
    prompt = Prompt(
        "Your label", media=(Media("document", "https://x.example/l.pdf", None, "label.pdf"),)
    )
    assert sections(render(prompt)) == ["Your label\nlabel.pdf: https://x.example/l.pdf"]


def test_render_is_the_adapters_render() -> None:
    adapter = SlackAdapter("xoxb-1", "secret")
    prompt = Prompt("Hi", choices=(Choice("a", "A"),))
    assert adapter.render(prompt) == render(prompt)


def test_the_adapter_refuses_to_run_without_a_signing_secret() -> None:
    with pytest.raises(ValueError, match="signing secret"):
        SlackAdapter("xoxb-1", " ")
    with pytest.raises(ValueError, match="xoxb-"):
        SlackAdapter("xoxp-user-token", "secret")


# --- parsing ---------------------------------------------------------------------------------


def envelope(**event: Any) -> dict[str, Any]:
    base = {
        "type": "message",
        "channel": "D0456",
        "user": "U0456",
        "text": "hi",
        "ts": "1700000000.000100",
        "channel_type": "im",
        "team": "T0123",
    }
    return {
        "type": "event_callback",
        "team_id": "T0123",
        "event_id": "Ev01",
        "event": {k: v for k, v in {**base, **event}.items() if v is not None},
    }


def parse(body: dict[str, Any]) -> Any:
    return event_inbound(body, bot_user_id=BOT_USER, bot_id=BOT)


def test_a_direct_message_becomes_an_inbound() -> None:
    message = parse(envelope(text="where is &lt;my&gt; order &amp; parcel"))
    assert message is not None
    assert (message.channel, message.message_id, message.identity, message.route) == (
        "slack",
        "D0456:1700000000.000100",
        "T0123:U0456",
        "D0456",
    )
    assert message.text == "where is <my> order & parcel"
    assert message.display_name is None
    assert message.raw["ts"] == "1700000000.000100"


def test_a_mention_and_its_message_event_share_the_dedupe_key() -> None:
    mention = parse(
        envelope(
            type="app_mention", channel="C0GEN", channel_type=None, text=f"<@{BOT_USER}> hi there"
        )
    )
    dm_copy = parse(envelope(channel="C0GEN", text=f"<@{BOT_USER}> hi there"))
    assert mention is not None
    assert mention.text == "hi there"
    assert mention.route == "C0GEN"
    assert mention.message_id == "C0GEN:1700000000.000100"
    assert dm_copy is not None
    assert dm_copy.message_id == mention.message_id


def test_only_the_leading_mention_of_this_bot_is_stripped() -> None:
    message = parse(envelope(text=f"<@{BOT_USER}|baton>: ask <@U0999> about <@{BOT_USER}>"))
    assert message is not None
    assert message.text == f"ask <@U0999> about <@{BOT_USER}>"


@pytest.mark.parametrize(
    "event",
    [
        {"bot_id": "B0OTHER"},
        {"subtype": "bot_message", "bot_id": "B0OTHER", "user": None},
        {"subtype": "message_changed", "hidden": True},
        {"subtype": "message_deleted", "hidden": True},
        {"subtype": "channel_join"},
        {"subtype": "thread_broadcast"},
        {"user": BOT_USER},
        {"channel_type": "channel"},
        {"type": "reaction_added"},
        {"text": f"<@{BOT_USER}>"},
        {"ts": None},
    ],
    ids=str,
)
def test_what_is_not_customer_text_is_ignored(event: dict[str, Any]) -> None:
    assert parse(envelope(**event)) is None


def test_a_file_share_is_kept_with_its_files() -> None:
    message = parse(
        envelope(
            subtype="file_share",
            text="",
            files=[
                {
                    "url_private": "https://files.slack.com/a.png",
                    "mimetype": "image/png",
                    "name": "a.png",
                }
            ],
        )
    )
    assert message is not None
    assert message.text is None
    assert [(m.kind, m.url, m.mime_type) for m in message.media] == [
        ("image", "https://files.slack.com/a.png", "image/png")
    ]


def press(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0456", "team_id": "T0123"},
        "team": {"id": "T0123"},
        "channel": {"id": "D0456"},
        "container": {"type": "message", "message_ts": "1700000000.000200", "channel_id": "D0456"},
        "actions": [
            {
                "action_id": "choice:1",
                "block_id": "choices",
                "value": "faq",
                "type": "button",
                "action_ts": "1700000001.123456",
            }
        ],
    }
    body.update(overrides)
    return body


def test_a_button_press_becomes_a_choice() -> None:
    message = action_inbound(press())
    assert message is not None
    assert (message.message_id, message.identity, message.route, message.choice) == (
        "action:D0456:1700000000.000200:1700000001.123456",
        "T0123:U0456",
        "D0456",
        "faq",
    )


def test_each_press_has_its_own_key() -> None:
    first = action_inbound(press())
    again = press()
    again["actions"][0]["action_ts"] = "1700000009.000001"
    second = action_inbound(again)
    assert first is not None
    assert second is not None
    assert first.message_id != second.message_id


@pytest.mark.parametrize(
    "body",
    [
        press(type="view_submission"),
        press(actions=[]),
        press(actions=[{"action_id": "other", "value": "x", "action_ts": "1.2"}]),
        press(user={}),
    ],
    ids=["view", "no-actions", "not-ours", "no-user"],
)
def test_other_interactions_are_ignored(body: dict[str, Any]) -> None:
    assert action_inbound(body) is None


# --- error mapping ---------------------------------------------------------------------------


def api_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.test/api/x",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)  # type: ignore[no-untyped-call]


def test_429_is_rate_limited_with_retry_after() -> None:
    error = send_error(api_error(429, "ratelimited", {"Retry-After": "7"}))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7


@pytest.mark.parametrize(
    "code", ["channel_not_found", "not_in_channel", "user_not_found", "is_archived"]
)
def test_gone_customers_are_unreachable(code: str) -> None:
    error = send_error(api_error(200, code))
    assert isinstance(error, Unreachable)
    assert error.code == code


@pytest.mark.parametrize(
    "code", ["invalid_auth", "not_authed", "token_revoked", "account_inactive"]
)
def test_a_dead_token_is_a_permanent_failure_not_the_customers(code: str) -> None:
    error = send_error(api_error(200, code))
    assert type(error) is SendError
    assert (error.retryable, error.code) == (False, code)


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "fatal_error"), (503, "service_unavailable"), (200, "internal_error")],
)
def test_server_errors_are_retryable(status: int, code: str) -> None:
    error = send_error(api_error(status, code))
    assert type(error) is SendError
    assert error.retryable


def test_other_api_errors_are_permanent() -> None:
    error = send_error(api_error(200, "invalid_blocks"))
    assert (type(error), error.retryable, error.code) == (SendError, False, "invalid_blocks")
