"""Built-in flows a bot can add to its `App`: `link_channels` ("link my channels")."""

from __future__ import annotations

from dialogs.builtin.link_channels import LINK_CODE, link_channels

__all__ = ["LINK_CODE", "link_channels"]
