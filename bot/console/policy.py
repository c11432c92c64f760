"""Who may see and do what with a conversation. Enforced on every endpoint, server-side.

Admins see every conversation. An agent sees the queue (waiting conversations not reserved
for someone else), what is reserved for them, and what they hold; anything else is
answered as if it did not exist (404), so guessing ids reveals nothing.
"""

from __future__ import annotations

from storage.console import Access

__all__ = ["can_see"]


def can_see(access: Access | None, agent_id: int, *, admin: bool) -> bool:
    """Whether the agent may read (and act on, as far as the action allows) a conversation."""
    if access is None:
        return False
    if admin:
        return True
    if access.handoff_id is None:
        return False
    if access.handoff_status == "waiting":
        return access.assigned_to in (None, agent_id)
    if access.handoff_status == "agent":
        return access.agent_id == agent_id
    return False
