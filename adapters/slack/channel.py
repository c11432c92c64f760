"""The Slack channel's entry in the channel registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.registry import Channel

if TYPE_CHECKING:
    from adapters.base import Adapter
    from adapters.emulators.customer import CustomerView

__all__ = ["CHANNEL"]


def _from_settings(settings: Any) -> Adapter:
    if not (settings.slack_bot_token and settings.slack_signing_secret):
        raise ValueError("Slack needs both BATON_SLACK_BOT_TOKEN and BATON_SLACK_SIGNING_SECRET")
    from adapters.slack.adapter import SlackAdapter

    try:
        return SlackAdapter(
            settings.slack_bot_token,
            settings.slack_signing_secret,
            api_base=settings.slack_api_base,
        )
    except ValueError as exc:
        raise ValueError(f"BATON_SLACK_*: {exc}") from None


def _customer_view(*, sandbox: bool = False) -> CustomerView:
    from adapters.emulators.slack_customer import SlackView

    return SlackView(sandbox=sandbox)


CHANNEL = Channel(
    name="slack",
    called="Slack",
    sandbox=True,
    credentials=("slack_bot_token", "slack_signing_secret"),
    from_settings=_from_settings,
    customer_view=_customer_view,
)
"""Slack: on when BATON_SLACK_BOT_TOKEN and BATON_SLACK_SIGNING_SECRET are set."""
