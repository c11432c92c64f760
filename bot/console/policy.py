"""Who may see and do what with a conversation. Enforced on every endpoint, server-side.

Admins see every conversation. An agent sees the queue (waiting conversations not reserved
for someone else), what is reserved for them, and what they hold; anything else is
answered as if it did not exist (404), so guessing ids reveals nothing.
"""

from __future__ import annotations

from storage import Access
from storage.access import SEE

__all__ = ["can_see"]


def can_see(access: Access | None, agent_id: int, *, admin: bool) -> bool:
    """Whether the agent may read (and act on, as far as the action allows) a conversation.

    The rule is `storage.access.SEE`, the one storage's queries are built from."""
    return SEE.allows(access, agent_id, admin=admin)
