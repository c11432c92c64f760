"""The JSON shapes more than one resource answers with: agents, references and handoffs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.console.core import Console
from storage import AgentRow

__all__ = ["agent_json", "agents_by_id", "customer_name", "handoff_json", "ref"]


def agent_json(row: AgentRow, *, full: bool = False) -> dict[str, Any]:
    """An agent; `full` adds what only the agent and admins see."""
    data: dict[str, Any] = {"id": row.id, "name": row.name, "role": row.role}
    if full:
        data.update(
            email=row.email,
            active=row.active,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
        )
    return data


def customer_name(memory: Mapping[str, Any] | None, *names: str | None, customer_id: int) -> str:
    """What to call a customer: the remembered name, a channel's display name, or a number."""
    remembered = (memory or {}).get("name")
    if isinstance(remembered, str) and remembered.strip():
        return remembered.strip()
    for name in names:
        if name:
            return name
    return f"Customer {customer_id}"


async def agents_by_id(console: Console) -> dict[int, AgentRow]:
    """Every agent, by id."""
    return {a.id: a for a in await console.db.agents()}


def ref(agents: Mapping[int, AgentRow], agent_id: int | None) -> dict[str, Any] | None:
    """A reference to an agent: id and name."""
    if agent_id is None:
        return None
    found = agents.get(agent_id)
    return {"id": agent_id, "name": found.name if found else f"Agent {agent_id}"}


def handoff_json(
    h: Mapping[str, Any], agents: Mapping[int, AgentRow], position: int | None
) -> dict[str, Any]:
    """A handoff: its status, reason, reply-by deadline and the agents involved."""
    return {
        "id": h["id"],
        "status": h["status"],
        "trigger": h["trigger"],
        "reason": h["reason"],
        "summary": h["summary"],
        "waiting_since": h["created_at"],
        "position": position,
        "deadline_at": h["deadline_at"],
        "first_reply_at": h["first_reply_at"],
        "breached": h["breached_at"] is not None,
        "agent": ref(agents, h["agent_id"]),
        "assigned_to": ref(agents, h["assigned_to"]),
        "claimed_at": h["claimed_at"],
        "ended_at": h["ended_at"],
    }
