"""The console's JSON API under /api/: everything the console page does, for scripts too.

Authenticated by the console session (cookie + `X-CSRF-Token` on changes) or by an API token
(`Authorization: Bearer baton_...`). Every conversation endpoint checks, server-side, that
the agent may see the conversation (`policy.can_see`); otherwise it answers 404. Errors are
`{"error": {"code": "...", "message": "..."}}`. Described at /api/openapi.json.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.console import auth
from bot.console.auth import Principal, fail
from bot.console.core import CONSOLE, Console
from bot.console.openapi import document
from bot.console.policy import can_see
from bot.handoff import readable
from storage import Access, AgentRow, ConsoleConflict, TokenRow
from storage.access import ASSIGN, CLAIM, HOLD, REPLY
from storage.vocabulary import OPEN, HandoffStatus, Role

__all__ = ["routes"]

_MAX_TEXT = 4000
_MAX_NAME = 100
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_ROLES = tuple(Role)
_CONFLICT_STATUS = {"not_found": 404, "unknown_agent": 400}

Handler = Callable[[web.Request, Console, Principal], Awaitable[web.StreamResponse]]


def _authed(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        console = request.app[CONSOLE]
        principal = await auth.authenticate(console, request)
        try:
            return await fn(request, console, principal)
        except ConsoleConflict as conflict:
            fail(_CONFLICT_STATUS.get(conflict.code, 409), conflict.code, str(conflict))

    return wrapped


def _admin(principal: Principal) -> None:
    if not principal.admin:
        fail(403, "forbidden", "only admins may do this")


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        fail(415, "json_only", "send application/json")
    try:
        data = await request.json()
    except ValueError:
        fail(400, "bad_json", "the body is not JSON")
    if not isinstance(data, dict):
        fail(400, "bad_json", "send a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str, limit: int = _MAX_TEXT) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        fail(400, "invalid", f"{name} must be a non-empty string")
    if len(value) > limit:
        fail(400, "invalid", f"{name} is longer than {limit} characters")
    return value.strip()


def _optional_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        fail(400, "invalid", f"{name} must be an integer")
    return value


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        fail(404, "not_found", "no such conversation")
    return int(raw)


async def _visible(console: Console, principal: Principal, conversation_id: int) -> Access:
    access = await console.db.access(conversation_id)
    if access is None or not can_see(access, principal.agent.id, admin=principal.admin):
        # The same answer whether it does not exist or is not theirs: ids reveal nothing.
        fail(404, "not_found", "no such conversation")
    return access


# --- shapes ---------------------------------------------------------------------------------


def _agent(agent: AgentRow, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"id": agent.id, "name": agent.name, "role": agent.role}
    if full:
        data.update(
            email=agent.email,
            active=agent.active,
            created_at=agent.created_at,
            last_login_at=agent.last_login_at,
        )
    return data


def _name(memory: Mapping[str, Any] | None, *names: str | None, customer_id: int) -> str:
    remembered = (memory or {}).get("name")
    if isinstance(remembered, str) and remembered.strip():
        return remembered.strip()
    for name in names:
        if name:
            return name
    return f"Customer {customer_id}"


async def _agents_by_id(console: Console) -> dict[int, AgentRow]:
    return {a.id: a for a in await console.db.agents()}


def _ref(agents: Mapping[int, AgentRow], agent_id: int | None) -> dict[str, Any] | None:
    if agent_id is None:
        return None
    agent = agents.get(agent_id)
    return {"id": agent_id, "name": agent.name if agent else f"Agent {agent_id}"}


def _handoff(
    h: Mapping[str, Any], agents: Mapping[int, AgentRow], position: int | None
) -> dict[str, Any]:
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
        "agent": _ref(agents, h["agent_id"]),
        "assigned_to": _ref(agents, h["assigned_to"]),
        "claimed_at": h["claimed_at"],
        "ended_at": h["ended_at"],
    }


def _messages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the console shows them; a pressed button shows the label it had."""
    out = []
    labels: dict[str, str] = {}
    for m in rows:
        payload = m["payload"] or {}
        if m["direction"] == "out" and payload.get("choices"):
            labels = {str(v): str(label) for v, label in payload["choices"]}
        out.append(_message(m, labels))
    return out


def _message(m: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    payload = m["payload"] or {}
    text = m["text"]
    pressed = m["direction"] == "in" and text is None and payload.get("choice") is not None
    if pressed:
        text = labels.get(str(payload["choice"]), str(payload["choice"]))
    data: dict[str, Any] = {
        "id": m["id"],
        "direction": m["direction"],
        "author": m["author"],
        "channel": m["channel"],
        "text": text,
        "choices": [str(label) for _, label in payload.get("choices", ())],
        "media": [
            {"kind": k, "name": n or k, "mime_type": t} for k, _, t, n in payload.get("media", ())
        ],
        "delivery_status": m["delivery_status"],
        "error": m["error"],
        "created_at": m["created_at"],
        "agent": None,
        "pressed": pressed,
    }
    if payload.get("agent_id") is not None:
        data["agent"] = {"id": payload["agent_id"], "name": payload.get("agent_name")}
    if payload.get("contact_phone"):
        data["text"] = (text + "\n" if text else "") + f"[contact {payload['contact_phone']}]"
    if payload.get("location"):
        lat, lon = payload["location"]
        data["text"] = (data["text"] + "\n" if data["text"] else "") + f"[location {lat}, {lon}]"
    return data


def _token(token: TokenRow, agents: Mapping[int, AgentRow]) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "agent": _ref(agents, token.agent_id),
        "created_by": _ref(agents, token.created_by),
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked": token.revoked_at is not None,
    }


# --- session ----------------------------------------------------------------------------------


async def log_in(request: web.Request) -> web.StreamResponse:
    """POST /api/session: log in with email and password; sets the session cookie."""
    console = request.app[CONSOLE]
    origin = request.headers.get("Origin")
    if origin is not None and origin not in auth.allowed_origins(console, request):
        fail(403, "bad_origin", "log in from Baton's own login page")
    data = await _body(request)
    email = data.get("email")
    password = data.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > 1024:
        fail(400, "invalid", "send email and password")
    agent, token, csrf = await auth.log_in(console, request, email, password)
    response = web.json_response({"agent": _agent(agent, full=True), "csrf_token": csrf})
    auth.set_cookie(response, token, console.settings.console_session_hours * 3600)
    response.headers["Cache-Control"] = "no-store"
    return response


@_authed
async def session(request: web.Request, console: Console, who: Principal) -> web.StreamResponse:
    """GET /api/session: who is logged in, the CSRF token and the console's settings."""
    response = web.json_response(
        {
            "agent": _agent(who.agent, full=True),
            "csrf_token": who.session.csrf_token if who.session else None,
            "now": time.time(),
            "reply_by_warning_seconds": console.config.warn_before,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def log_out(request: web.Request) -> web.StreamResponse:
    """DELETE /api/session: end the session server-side and clear the cookie."""
    console = request.app[CONSOLE]
    await auth.authenticate(console, request)  # CSRF-checked: no cross-site logout
    await auth.log_out(console, request)
    response = web.json_response({"ok": True})
    auth.clear_cookie(response)
    return response


@_authed
async def my_sessions(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/sessions: where I am logged in."""
    current = who.session.id if who.session else None
    rows = await console.db.sessions_of(who.agent.id)
    return web.json_response(
        {
            "sessions": [
                {
                    "id": r["id"],
                    "created_at": r["created_at"],
                    "last_seen_at": r["last_seen_at"],
                    "expires_at": r["expires_at"],
                    "user_agent": r["user_agent"],
                    "current": r["id"] == current,
                }
                for r in rows
            ]
        }
    )


@_authed
async def end_session(request: web.Request, console: Console, who: Principal) -> web.Response:
    """DELETE /api/sessions/{id}: log one of my sessions out."""
    sid = request.match_info["sid"]
    if not await console.db.delete_session(sid, agent_id=who.agent.id):
        fail(404, "not_found", "no such session")
    console.hub.session_ended(sid)
    return web.json_response({"ok": True})


# --- conversations ----------------------------------------------------------------------------


@_authed
async def conversations(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations: the open conversations this agent may see, oldest first."""
    rows = await console.db.open_handoffs()
    agents = await _agents_by_id(console)
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
        item = _handoff(h, agents, place if h["status"] == HandoffStatus.WAITING else None)
        item.update(
            id=h["conversation_id"],
            handoff_id=h["id"],
            customer_id=h["customer_id"],
            name=_name(
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


@_authed
async def conversation(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations/{id}: the customer panel, handoffs, notes and events."""
    conversation_id = _id(request)
    access = await _visible(console, who, conversation_id)
    found = await console.db.conversation(conversation_id)
    if found is None:
        fail(404, "not_found", "no such conversation")
    agents = await _agents_by_id(console)
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
                "name": _name(customer["memory"], *names, customer_id=customer["id"]),
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
            "handoff": None if open_handoff is None else _handoff(open_handoff, agents, position),
            "earlier": [_handoff(h, agents, None) for h in handoffs if h["status"] not in OPEN],
            "notes": [
                {
                    "id": n["id"],
                    "text": n["text"],
                    "agent": _ref(agents, n["agent_id"]),
                    "created_at": n["created_at"],
                }
                for n in found["notes"]
            ],
            "events": [
                {
                    "id": e["id"],
                    "kind": e["kind"],
                    "agent": _ref(agents, e["agent_id"]),
                    "to": _ref(agents, (e["detail"] or {}).get("to")),
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


@_authed
async def messages(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/conversations/{id}/messages: the history on every channel, oldest first."""
    access = await _visible(console, who, _id(request))
    try:
        before = int(request.query["before"]) if "before" in request.query else None
        limit = min(500, max(1, int(request.query.get("limit", "200"))))
    except ValueError:
        fail(400, "invalid", "before and limit must be integers")
    rows = await console.db.history(access.customer_id, before=before, limit=limit)
    return web.json_response({"messages": _messages(rows)})


@_authed
async def reply(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/conversations/{id}/messages: reply on the customer's current channel."""
    access = await _visible(console, who, _id(request))
    text = _text(await _body(request), "text")
    message_id = await console.handoffs.reply(
        access.conversation_id, access.customer_id, who.agent, text
    )
    return web.json_response({"id": message_id}, status=201)


@_authed
async def add_note(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/conversations/{id}/notes: an internal note the customer never sees."""
    access = await _visible(console, who, _id(request))
    text = _text(await _body(request), "text")
    note_id = await console.db.add_note(access.conversation_id, who.agent.id, text)
    console.hub.kick()
    return web.json_response({"id": note_id}, status=201)


def _action(
    name: str,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @_authed
    async def act(request: web.Request, console: Console, who: Principal) -> web.StreamResponse:
        access = await _visible(console, who, _id(request))
        data = await _body(request) if request.can_read_body else {}
        handoffs = console.handoffs
        args = (access.conversation_id, access.customer_id, who.agent)
        if name == "claim":
            await handoffs.claim(*args)
        elif name == "assign":
            to_agent = _optional_int(data, "agent_id")
            if to_agent is None:
                fail(400, "invalid", "agent_id is required")
            await handoffs.assign(*args, to_agent)
        elif name == "release":
            await handoffs.release(*args)
        elif name == "resolve":
            await handoffs.resolve(*args, seen=_optional_int(data, "seen"))
        else:
            await handoffs.hand_back(*args, seen=_optional_int(data, "seen"))
        return web.json_response({"ok": True})

    return act


# --- agents, canned replies, tokens, reports ---------------------------------------------------


@_authed
async def agents(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/agents: admins get every account; agents the active colleagues' names."""
    rows = await console.db.agents()
    if who.admin:
        return web.json_response({"agents": [_agent(a, full=True) for a in rows]})
    return web.json_response({"agents": [_agent(a) for a in rows if a.active]})


@_authed
async def add_agent(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/agents (admin): create an account; a generated password is shown once."""
    _admin(who)
    data = await _body(request)
    email = _text(data, "email", 320).lower()
    if not _EMAIL.match(email):
        fail(400, "invalid", "email is not an email address")
    name = _text(data, "name", _MAX_NAME)
    role = data.get("role", Role.AGENT.value)
    if role not in _ROLES:
        fail(400, "invalid", "role is agent or admin")
    password = data.get("password")
    generated = None
    if password is None:
        password = generated = auth.new_password()
    elif not isinstance(password, str) or not 12 <= len(password) <= 1024:
        fail(400, "invalid", "a password has 12 to 1024 characters")
    agent = await console.db.add_agent(email, name, str(role), auth.hash_password(password))
    return web.json_response(
        {"agent": _agent(agent, full=True), "password": generated}, status=201
    )


@_authed
async def change_agent(request: web.Request, console: Console, who: Principal) -> web.Response:
    """PATCH /api/agents/{id} (admin): rename, change role, (de)activate, set a password."""
    _admin(who)
    agent_id = _id(request)
    data = await _body(request)
    name = _text(data, "name", _MAX_NAME) if "name" in data else None
    role = data.get("role")
    if role is not None and role not in _ROLES:
        fail(400, "invalid", "role is agent or admin")
    active = data.get("active")
    if active is not None and not isinstance(active, bool):
        fail(400, "invalid", "active is true or false")
    if agent_id == who.agent.id and (active is False or role == Role.AGENT):
        fail(400, "invalid", "you cannot demote or deactivate yourself")
    password = data.get("password")
    if password is not None and (not isinstance(password, str) or not 12 <= len(password) <= 1024):
        fail(400, "invalid", "a password has 12 to 1024 characters")
    agent = await console.db.update_agent(
        agent_id,
        name=name,
        role=role,
        active=active,
        password_hash=auth.hash_password(password) if password else None,
    )
    if agent is None:
        fail(404, "not_found", "no such agent")
    return web.json_response({"agent": _agent(agent, full=True)})


@_authed
async def canned(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/canned-replies."""
    rows = await console.db.canned_replies()
    return web.json_response(
        {"canned_replies": [{"id": r["id"], "title": r["title"], "text": r["text"]} for r in rows]}
    )


@_authed
async def add_canned(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/canned-replies (admin)."""
    _admin(who)
    data = await _body(request)
    reply_id = await console.db.add_canned_reply(
        _text(data, "title", _MAX_NAME), _text(data, "text"), who.agent.id
    )
    return web.json_response({"id": reply_id}, status=201)


@_authed
async def delete_canned(request: web.Request, console: Console, who: Principal) -> web.Response:
    """DELETE /api/canned-replies/{id} (admin)."""
    _admin(who)
    if not await console.db.delete_canned_reply(_id(request)):
        fail(404, "not_found", "no such canned reply")
    return web.json_response({"ok": True})


@_authed
async def tokens(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/tokens (admin)."""
    _admin(who)
    agents_by_id = await _agents_by_id(console)
    rows = await console.db.tokens()
    return web.json_response({"tokens": [_token(t, agents_by_id) for t in rows]})


@_authed
async def add_token(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/tokens (admin): a token acting as an agent (default: the admin); shown once."""
    _admin(who)
    data = await _body(request)
    name = _text(data, "name", _MAX_NAME)
    agent_id = _optional_int(data, "agent_id") or who.agent.id
    agent = await console.db.agent(agent_id)
    if agent is None or not agent.active:
        fail(400, "invalid", "agent_id is not an active agent")
    token = auth.new_token()
    row = await console.db.create_token(auth.token_hash(token), agent_id, who.agent.id, name)
    body = _token(row, await _agents_by_id(console))
    body["token"] = token
    return web.json_response(body, status=201)


@_authed
async def revoke_token(request: web.Request, console: Console, who: Principal) -> web.Response:
    """DELETE /api/tokens/{id} (admin)."""
    _admin(who)
    if not await console.db.revoke_token(_id(request)):
        fail(404, "not_found", "no such token")
    return web.json_response({"ok": True})


@_authed
async def breaches(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/reports/breaches (admin): reply-by promises broken since `since`."""
    _admin(who)
    try:
        since = float(request.query.get("since", "0"))
    except ValueError:
        fail(400, "invalid", "since is a Unix time")
    rows = await console.db.breaches(since)
    return web.json_response({"breaches": rows})


async def openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json: this API, described."""
    return web.json_response(document())


# -- linking channels (admin): an admin vouches that two identities are one person ---------


@_authed
async def link_identities(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/identities/link (admin): merge the customers of two identities."""
    _admin(who)
    data = await _body(request)
    a, b = data.get("identity_a"), data.get("identity_b")
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or a == b:
        fail(400, "invalid", "identity_a and identity_b are two identity ids")
    try:
        merged = await console.linking.link(a, b, actor=f"agent:{who.agent.id}")
    except LookupError:
        fail(404, "not_found", "no such identity")
    if merged is None:
        return web.json_response({"customer_id": None, "merge_log_id": None})
    return web.json_response({"customer_id": merged.keep, "merge_log_id": merged.log_id})


@_authed
async def unlink_identity(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/identities/{id}/unlink (admin): give an identity its own customer again."""
    _admin(who)
    identity_id = _id(request)
    try:
        unlinked = await console.linking.unlink(identity_id, actor=f"agent:{who.agent.id}")
    except LookupError:
        fail(404, "not_found", "no such identity")
    if unlinked is None:
        fail(409, "not_linked", "the identity is its customer's only one")
    return web.json_response(
        {"customer_id": unlinked.new_customer_id, "merge_log_id": unlinked.log_id}
    )


def routes() -> list[web.RouteDef]:
    """The API routes."""
    return [
        web.get("/api/openapi.json", openapi),
        web.post("/api/session", log_in),
        web.get("/api/session", session),
        web.delete("/api/session", log_out),
        web.get("/api/sessions", my_sessions),
        web.delete("/api/sessions/{sid}", end_session),
        web.get("/api/conversations", conversations),
        web.get("/api/conversations/{id}", conversation),
        web.get("/api/conversations/{id}/messages", messages),
        web.post("/api/conversations/{id}/messages", reply),
        web.post("/api/conversations/{id}/notes", add_note),
        web.post("/api/conversations/{id}/claim", _action("claim")),
        web.post("/api/conversations/{id}/assign", _action("assign")),
        web.post("/api/conversations/{id}/release", _action("release")),
        web.post("/api/conversations/{id}/resolve", _action("resolve")),
        web.post("/api/conversations/{id}/hand-back", _action("hand_back")),
        web.get("/api/agents", agents),
        web.post("/api/agents", add_agent),
        web.patch("/api/agents/{id}", change_agent),
        web.get("/api/canned-replies", canned),
        web.post("/api/canned-replies", add_canned),
        web.delete("/api/canned-replies/{id}", delete_canned),
        web.get("/api/tokens", tokens),
        web.post("/api/tokens", add_token),
        web.delete("/api/tokens/{id}", revoke_token),
        web.get("/api/reports/breaches", breaches),
        web.post("/api/identities/link", link_identities),
        web.post("/api/identities/{id}/unlink", unlink_identity),
    ]
