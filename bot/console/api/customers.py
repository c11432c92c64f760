"""Customers and their data (privacy): search, the customer page, consents, export, erasure
and the audit trail.

Search and the customer page follow the conversations' rule: an agent sees a customer when
they may see the customer's conversation (`policy.can_see`); admins see everyone. Export,
erasure and the audit trail are for admins. Every read of a customer page, export and
erasure is written to the audit trail with the agent and the client's address.
"""

from __future__ import annotations

import time
from typing import Any
from weakref import WeakKeyDictionary

from aiohttp import web

from bot.console.api._request import admin_only, authed, json_body, required_text
from bot.console.api._shapes import customer_name
from bot.console.auth import Principal, client_address, fail
from bot.console.core import Console
from bot.console.policy import can_see
from bot.privacy import Privacy
from bot.privacy.page import export_page
from storage.consents import SERVICE, Consents, check_purpose

__all__ = ["routes"]


def _privacy(console: Console) -> Privacy:
    return console.engine.feature(Privacy)


def _actor(who: Principal) -> str:
    kind = "agent" if who.session is not None else "token"
    return f"{kind}:{who.agent.id}"


def _facts(request: web.Request, console: Console, who: Principal) -> dict[str, Any]:
    return {
        "actor": _actor(who),
        "agent_id": who.agent.id,
        "ip": client_address(request, console.settings.trusted_proxies),
    }


async def _visible_customer(console: Console, who: Principal, customer_id: int) -> None:
    exists, access = await _privacy(console).db.customer_access(customer_id)
    if not exists or not (who.admin or can_see(access, who.agent.id, admin=who.admin)):
        fail(404, "not_found", "no such customer")


def _customer_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        fail(404, "not_found", "no such customer")
    return int(raw)


@authed
async def search(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/customers?q=: customers by name, phone, email, channel id or id."""
    query = request.query.get("q", "").strip()
    if not query or len(query) > 100:
        fail(400, "invalid", "q is 1 to 100 characters")
    found = await _privacy(console).db.search(query)
    items = []
    for c in found:
        if not (who.admin or can_see(c["access"], who.agent.id, admin=who.admin)):
            continue
        names = [i["display_name"] for i in c["identities"]]
        items.append(
            {
                "id": c["id"],
                "name": customer_name(c["memory"], *names, customer_id=c["id"]),
                "conversation_id": c["access"].conversation_id if c["access"] else None,
                "identities": [
                    {"channel": i["channel"], "external_id": i["external_id"]}
                    for i in c["identities"]
                ],
            }
        )
    await _privacy(console).db.audit(
        "search", **_facts(request, console, who), detail={"results": len(items)}
    )
    return web.json_response({"items": items})


@authed
async def customer(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/customers/{id}: profile, identities, consents and data requests."""
    customer_id = _customer_id(request)
    await _visible_customer(console, who, customer_id)
    privacy = _privacy(console)
    identities = await console.db.identities(customer_id)
    consents = Consents(console.engine.store)
    history = await consents.history(customer_id)
    in_force = await consents.in_force(customer_id)
    requests = await privacy.db.audit_entries(customer_id=customer_id, limit=200)
    await privacy.db.audit(
        "read",
        customer_id=customer_id,
        **_facts(request, console, who),
        detail={"page": "customer"},
    )
    return web.json_response(
        {
            "id": customer_id,
            "identities": [
                {
                    "id": i["id"],
                    "channel": i["channel"],
                    "external_id": i["external_id"],
                    "display_name": i["display_name"],
                }
                for i in identities
            ],
            "consents": {
                purpose: {"granted": c.granted, "at": c.created_at, "source": c.source}
                for purpose, c in in_force.items()
            },
            "consent_history": [
                {
                    "purpose": c.purpose,
                    "granted": c.granted,
                    "channel": c.channel,
                    "source": c.source,
                    "actor": c.actor,
                    "text": c.text,
                    "created_at": c.created_at,
                }
                for c in history
            ],
            "data_requests": [
                e.to_json()
                for e in requests
                if e.action in {"export", "export_link", "export_download", "erase_asked"}
            ],
            "can": {"erase": who.admin, "export": who.admin},
        }
    )


@authed
async def set_consent(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/customers/{id}/consents {"purpose", "granted": false}: record a withdrawal
    (or, told by the customer, a consent) from the console or the API."""
    customer_id = _customer_id(request)
    await _visible_customer(console, who, customer_id)
    data = await json_body(request)
    purpose = required_text(data, "purpose", 32)
    granted = data.get("granted")
    if not isinstance(granted, bool):
        fail(400, "invalid", "granted must be true or false")
    try:
        check_purpose(purpose)
    except ValueError as exc:
        fail(400, "invalid", str(exc))
    if purpose == SERVICE:
        fail(400, "invalid", "the 'service' purpose needs no consent")
    note = data.get("text", "")
    if not isinstance(note, str) or len(note) > 1000:
        fail(400, "invalid", "text is a string of at most 1000 characters")
    source = "console" if who.session is not None else "api"
    consent_id = await Consents(console.engine.store).record(
        customer_id,
        purpose,
        granted=granted,
        source=source,
        text=note,
        actor=_actor(who),
    )
    await _privacy(console).db.audit(
        "consent",
        customer_id=customer_id,
        **_facts(request, console, who),
        detail={"purpose": purpose, "granted": granted},
    )
    return web.json_response({"id": consent_id})


@authed
async def export(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/customers/{id}/export[?format=html] (admin): everything held about them."""
    admin_only(who)
    customer_id = _customer_id(request)
    data = await _privacy(console).db.export(customer_id, **_facts(request, console, who))
    if data is None:
        fail(404, "not_found", "no such customer")
    if request.query.get("format") == "html":
        return web.Response(
            text=export_page(data),
            content_type="text/html",
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )
    return web.json_response(data)


@authed
async def erase(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/customers/{id}/erase (admin): erase the customer, leaving a tombstone."""
    admin_only(who)
    customer_id = _customer_id(request)
    done = await _privacy(console).erase(customer_id, **_facts(request, console, who))
    if done is None:
        fail(404, "not_found", "no such customer")
    return web.json_response(
        {
            "customers": list(done.customer_ids),
            "deleted": {k: v for k, v in done.deleted.items() if v},
        }
    )


@authed
async def audit_trail(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/audit (admin): the audit trail, newest first (`customer_id`, `action`,
    `before` an entry id, `limit` up to 500)."""
    admin_only(who)
    q = request.query

    def number(name: str) -> int | None:
        raw = q.get(name)
        if raw is None:
            return None
        if not raw.isdigit() or len(raw) > 18:
            fail(400, "invalid", f"{name} is a number")
        return int(raw)

    limit = min(number("limit") or 100, 500)
    rows = await _privacy(console).db.audit_entries(
        customer_id=number("customer_id"),
        action=q.get("action"),
        before=number("before"),
        limit=limit,
    )
    return web.json_response({"items": [r.to_json() for r in rows]})


def routes() -> list[web.RouteDef]:
    """The customers' and the audit trail's routes."""
    return [
        web.get("/api/customers", search),
        web.get("/api/customers/{id}", customer),
        web.post("/api/customers/{id}/consents", set_consent),
        web.get("/api/customers/{id}/export", export),
        web.post("/api/customers/{id}/erase", erase),
        web.get("/api/audit", audit_trail),
    ]


def openapi_paths(ok: Any, errors: Any, body: Any, obj: Any, id_param: Any) -> dict[str, Any]:
    """These routes, described for the OpenAPI document (`bot.console.openapi`)."""
    any_obj = {"type": "object"}
    return {
        "/api/customers": {
            "get": {
                "summary": "Find customers by name, phone, email, channel id or id",
                "tags": ["customers"],
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {**ok("Customers this agent may see", any_obj), **errors(400, 401)},
            }
        },
        "/api/customers/{id}": {
            "get": {
                "summary": "A customer: identities, consents and data requests",
                "tags": ["customers"],
                "parameters": [id_param],
                "responses": {**ok("The customer", any_obj), **errors(401, 404)},
            }
        },
        "/api/customers/{id}/consents": {
            "post": {
                "summary": "Record a consent or its withdrawal for a purpose",
                "tags": ["customers"],
                "parameters": [id_param],
                "requestBody": body(
                    obj(
                        ["purpose", "granted"],
                        purpose={"type": "string"},
                        granted={"type": "boolean"},
                        text={"type": "string"},
                    )
                ),
                "responses": {**ok("Recorded", any_obj), **errors(400, 401, 403, 404)},
            }
        },
        "/api/customers/{id}/export": {
            "get": {
                "summary": "Everything held about a customer, as JSON or HTML (admin)",
                "tags": ["admin"],
                "parameters": [
                    id_param,
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["json", "html"]},
                    },
                ],
                "responses": {**ok("The export", any_obj), **errors(401, 403, 404)},
            }
        },
        "/api/customers/{id}/erase": {
            "post": {
                "summary": "Erase a customer, leaving a tombstone (admin)",
                "tags": ["admin"],
                "parameters": [id_param],
                "responses": {**ok("Erased", any_obj), **errors(401, 403, 404)},
            }
        },
        "/api/audit": {
            "get": {
                "summary": "The audit trail, newest first (admin)",
                "tags": ["admin"],
                "responses": {**ok("Entries", any_obj), **errors(400, 401, 403)},
            }
        },
    }


_READ_EVERY = 600.0
_reads: WeakKeyDictionary[Console, dict[tuple[int, int], float]] = WeakKeyDictionary()
"""Per console: when each agent last had a read of each conversation recorded."""


async def audit_read(
    request: web.Request, console: Console, who: Principal, conversation_id: int, customer_id: int
) -> None:
    """Record that the agent read a conversation: once per agent and conversation every ten
    minutes (the console reloads a conversation on every live update)."""
    now = time.monotonic()
    key = (who.agent.id, conversation_id)
    reads = _reads.setdefault(console, {})
    if now - reads.get(key, -_READ_EVERY) < _READ_EVERY:
        return
    reads[key] = now
    if len(reads) > 10_000:
        for old in [k for k, at in reads.items() if now - at >= _READ_EVERY]:
            del reads[old]
    await _privacy(console).db.audit(
        "read",
        customer_id=customer_id,
        conversation_id=conversation_id,
        **_facts(request, console, who),
    )


async def audit_link(
    request: web.Request, console: Console, who: Principal, action: str, detail: dict[str, Any]
) -> None:
    """Record a link or an unlink an admin made."""
    customer_id = detail.get("customer_id")
    await _privacy(console).db.audit(
        action,
        customer_id=customer_id if isinstance(customer_id, int) else None,
        **_facts(request, console, who),
        detail=detail,
    )
