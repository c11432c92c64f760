"""The queue and one conversation: what agents see and the handoff actions they take.

Every conversation endpoint checks, server-side, that the agent may see the conversation
(`policy.can_see`); otherwise it answers 404.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.console.api._request import authed, json_body, optional_int, path_id, visible
from bot.console.api._shapes import agents_by_id, customer_name, handoff_json, ref
from bot.console.api.customers import audit_read
from bot.console.auth import Principal, fail
from bot.console.core import Console
from bot.console.policy import can_see
from bot.handoff import readable
from storage import Access
from storage.access import ASSIGN, CLAIM, HOLD, REPLY
from storage.vocabulary import OPEN, HandoffStatus

__all__ = ["routes"]


@authed
async def conversations(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations: the open conversations this agent may see, oldest first."""
    rows = await console.db.open_handoffs()
    agents = await agents_by_id(console)
    items = []
    place = 0
    for h in rows:
        if h["status"] == HandoffStatus.WAITING:
            place += 1
        access = Access(
            h["conversation_id"],
            h["customer_id"],
            h["status"],
            h["id"],
            h["status"],
            h["agent_id"],
            h["assigned_to"],
        )
        if not can_see(access, who.agent.id, admin=who.admin):
            continue
        last = h["last_message"]
        item = handoff_json(h, agents, place if h["status"] == HandoffStatus.WAITING else None)
        item.update(
            id=h["conversation_id"],
            handoff_id=h["id"],
            customer_id=h["customer_id"],
            name=customer_name(
                h["memory"], h["display_name"], *h["display_names"], customer_id=h["customer_id"]
            ),
            channel=h["channel"],
            last_message=None
            if last is None
            else {
                "id": last["id"],
                "text": last["text"],
                "channel": last["channel"],
                "created_at": last["created_at"],
            },
        )
        items.append(item)
    return web.json_response({"now": time.time(), "items": items})


@authed
async def conversation(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations/{id}: the customer panel, handoffs, notes and events."""
    conversation_id = path_id(request)
    access = await visible(console, who, conversation_id)
    await audit_read(request, console, who, conversation_id, access.customer_id)
    found = await console.db.conversation(conversation_id)
    if found is None:
        fail(404, "not_found", "no such conversation")
    agents = await agents_by_id(console)
    customer = found["customer"]
    identities = found["identities"]
    current = customer["last_identity_id"]
    names = [i["display_name"] for i in identities if i["id"] == current]
    names += [i["display_name"] for i in identities]
    handoffs = found["handoffs"]
    open_handoff = next((h for h in handoffs if h["status"] in OPEN), None)
    position = None
    if open_handoff is not None and open_handoff["status"] == HandoffStatus.WAITING:
        waiting = [w for w in await console.db.waiting() if w.status == HandoffStatus.WAITING]
        position = next((n for n, w in enumerate(waiting, 1) if w.id == open_handoff["id"]), None)
    me, admin = who.agent.id, who.admin
    holder = REPLY.allows(access, me, admin=admin)
    return web.json_response(
        {
            "id": conversation_id,
            "status": access.status,
            "now": time.time(),
            "customer": {
                "id": customer["id"],
                "name": customer_name(customer["memory"], *names, customer_id=customer["id"]),
                "created_at": customer["created_at"],
                "last_seen_at": customer["last_seen_at"],
                "memory": {
                    k: readable(v)
                    for k, v in (customer["memory"] or {}).items()
                    if not k.startswith("_baton")
                },
                "identities": [
                    {
                        "id": i["id"],
                        "channel": i["channel"],
                        "external_id": i["external_id"],
                        "display_name": i["display_name"],
                        "current": i["id"] == current,
                        "opted_out": bool(i["opted_out"]),
                        "unreachable": bool(i["unreachable"]),
                        "last_seen_at": i["last_seen_at"],
                    }
                    for i in identities
                ],
            },
            "handoff": None
            if open_handoff is None
            else handoff_json(open_handoff, agents, position),
            "earlier": [
                handoff_json(h, agents, None) for h in handoffs if h["status"] not in OPEN
            ],
            "notes": [
                {
                    "id": n["id"],
                    "text": n["text"],
                    "agent": ref(agents, n["agent_id"]),
                    "created_at": n["created_at"],
                }
                for n in found["notes"]
            ],
            "events": [
                {
                    "id": e["id"],
                    "kind": e["kind"],
                    "agent": ref(agents, e["agent_id"]),
                    "to": ref(agents, (e["detail"] or {}).get("to")),
                    "created_at": e["created_at"],
                }
                for e in found["events"]
            ],
            "can": {
                "claim": CLAIM.allows(access, me, admin=admin),
                "reply": holder,
                "assign": ASSIGN.allows(access, me, admin=admin),
                # Offered only for a held conversation (the rule also lets one put back what
                # waits reserved for oneself).
                "release": holder or (admin and access.handoff_status == HandoffStatus.AGENT),
                "resolve": HOLD.allows(access, me, admin=admin),
                "hand_back": HOLD.allows(access, me, admin=admin),
            },
        }
    )


def _action(
    name: str,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @authed
    async def act(request: web.Request, console: Console, who: Principal) -> web.StreamResponse:
        access = await visible(console, who, path_id(request))
        data = await json_body(request) if request.can_read_body else {}
        handoffs = console.handoffs
        args = (access.conversation_id, access.customer_id, who.agent)
        if name == "claim":
            await handoffs.claim(*args)
        elif name == "assign":
            to_agent = optional_int(data, "agent_id")
            if to_agent is None:
                fail(400, "invalid", "agent_id is required")
            await handoffs.assign(*args, to_agent)
        elif name == "release":
            await handoffs.release(*args)
        elif name == "resolve":
            await handoffs.resolve(*args, seen=optional_int(data, "seen"))
        else:
            await handoffs.hand_back(*args, seen=optional_int(data, "seen"))
        return web.json_response({"ok": True})

    return act


def routes() -> list[web.RouteDef]:
    """The queue's and the conversations' routes, the handoff actions among them."""
    return [
        web.get("/api/conversations", conversations),
        web.get("/api/conversations/{id}", conversation),
        web.post("/api/conversations/{id}/claim", _action("claim")),
        web.post("/api/conversations/{id}/assign", _action("assign")),
        web.post("/api/conversations/{id}/release", _action("release")),
        web.post("/api/conversations/{id}/resolve", _action("resolve")),
        web.post("/api/conversations/{id}/hand-back", _action("hand_back")),
    ]
