"""A customer's follow-up as agents see it: their surveys and scheduled work (timers of
sleeping flows, flows started for them, events for the flows) with their status.

Same authorisation as the conversation: an agent who may not see it gets 404.
"""

from __future__ import annotations

import time

from aiohttp import web

from bot.console.api._request import authed, path_id, visible
from bot.console.auth import Principal
from bot.console.core import Console
from storage import FollowupStore

__all__ = ["routes"]


@authed
async def follow_up(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations/{id}/follow-up: the customer's surveys and scheduled work."""
    access = await visible(console, who, path_id(request))
    store = FollowupStore(console.engine.store)
    surveys = await store.surveys(access.customer_id)
    timers = await store.timers(access.customer_id)
    return web.json_response(
        {
            "now": time.time(),
            "surveys": [
                {
                    "id": s["id"],
                    "kind": s["kind"],
                    "score": s["score"],
                    "comment": s["comment"],
                    "channel": s["channel"],
                    "conversation_id": s["conversation_id"],
                    "agent_id": s["agent_id"],
                    "flow": s["flow"],
                    "after": s["after"],
                    "created_at": s["created_at"],
                }
                for s in surveys
            ],
            "scheduled": [
                {
                    "id": t["id"],
                    "kind": t["kind"],
                    "flow": t["flow"],
                    "due_at": t["due_at"],
                    "status": t["status"],
                    "reason": t["reason"],
                    "created_at": t["created_at"],
                    "fired_at": t["fired_at"],
                }
                for t in timers
            ],
        }
    )


def routes() -> list[web.RouteDef]:
    """The follow-up route."""
    return [web.get("/api/conversations/{id}/follow-up", follow_up)]
