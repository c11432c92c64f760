"""Proactive messages and campaigns: write to a customer first, to a segment, and see what
became of each message (sent, pending, skipped with the reason).

A proactive message to a customer: admins (and their API tokens) to anyone; an agent to a
customer whose conversation they may see (`policy.can_see`), otherwise 404 as for an unknown
customer. Campaigns are for admins.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.console.api._request import MAX_NAME, admin_only, authed, json_body
from bot.console.auth import Principal, fail
from bot.console.core import Console
from bot.console.policy import can_see
from bot.proactive import BadMessage, Proactive, UnknownCustomer

__all__ = ["routes"]

_SEGMENT_KEYS = frozenset({"consent", "memory", "seen_after", "seen_before", "customers"})


def _feature(console: Console) -> Proactive:
    return console.engine.feature(Proactive)


def _customer_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        fail(404, "not_found", "no such customer")
    return int(raw)


def _no_customer(customer_id: int) -> None:
    fail(404, "not_found", f"no customer {customer_id}: check the id (GET /api/conversations)")


async def _allowed(console: Console, who: Principal, customer_id: int) -> None:
    """404 unless the customer exists and this agent may write to them (see the module)."""
    if not await _feature(console).db.customer_exists(customer_id):
        _no_customer(customer_id)
    if who.admin:
        return
    conversation = await console.engine.store.conversation(customer_id)
    access = await console.db.access(int(conversation["id"]))
    if not can_see(access, who.agent.id, admin=False):
        _no_customer(customer_id)


def _message_fields(data: dict[str, Any]) -> tuple[str, list[Any], str]:
    text = data.get("text")
    if not isinstance(text, str):
        fail(400, "invalid", "text must be a non-empty string")
    choices = data.get("choices", [])
    if not isinstance(choices, list):
        fail(400, "invalid", "choices must be a list of labels or [value, label] pairs")
    purpose = data.get("purpose", "service")
    if not isinstance(purpose, str):
        fail(400, "invalid", 'purpose must be a string, e.g. "service"')
    return text, choices, purpose


@authed
async def send(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/customers/{id}/messages: message a customer first, on the channel the rule
    picks; 201 with the record (its status "pending", or "skipped" with the reason)."""
    customer_id = _customer_id(request)
    data = await json_body(request)
    text, choices, purpose = _message_fields(data)
    await _allowed(console, who, customer_id)
    try:
        record = await _feature(console).notify(
            customer_id,
            text,
            purpose=purpose,
            choices=choices,
            source="api",
            actor=f"agent:{who.agent.id}",
            agent=(who.agent.id, who.agent.name),
        )
    except BadMessage as exc:
        fail(400, "invalid", str(exc))
    except UnknownCustomer:
        _no_customer(customer_id)
    console.hub.kick()
    return web.json_response({"message": record.to_json()}, status=201)


@authed
async def listing(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/customers/{id}/proactive: the customer's proactive and campaign messages,
    newest first, with their status (sent, pending, skipped with the reason, failed)."""
    customer_id = _customer_id(request)
    await _allowed(console, who, customer_id)
    records = await _feature(console).db.of_customer(customer_id)
    return web.json_response({"messages": [r.to_json() for r in records]})


@authed
async def prefer(request: web.Request, console: Console, who: Principal) -> web.Response:
    """PUT /api/customers/{id}/preferred-channel: {"channel": "twilio"} or {"channel": null}."""
    customer_id = _customer_id(request)
    data = await json_body(request)
    await _allowed(console, who, customer_id)
    channel = data.get("channel")
    feature = _feature(console)
    if channel is not None:
        if not isinstance(channel, str):
            fail(400, "invalid", "channel must be a channel name or null")
        has = await feature.db.channels_of(customer_id)
        if channel not in has:
            fail(
                400,
                "invalid",
                f"the customer has no identity on {channel!r}: one of {', '.join(has) or 'none'}",
            )
    if not await feature.db.prefer(customer_id, channel):
        _no_customer(customer_id)
    return web.json_response({"customer_id": customer_id, "preferred_channel": channel})


@authed
async def start(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/customers/{id}/conversation: open a conversation with a customer whose
    conversation is with the bot or resolved, held by this agent at once (then reply with
    POST /api/conversations/{id}/messages). Admins: any customer; agents: one they helped."""
    customer_id = _customer_id(request)
    data = await json_body(request)
    reason = data.get("reason") or "started by an agent"
    if not isinstance(reason, str) or len(reason) > 200:
        fail(400, "invalid", "reason must be a string of at most 200 characters")
    try:
        conversation_id = await _feature(console).db.start_conversation(
            customer_id, who.agent.id, admin=who.admin, reason=reason.strip()
        )
    except LookupError:
        _no_customer(customer_id)
    console.hub.kick()
    return web.json_response({"conversation_id": conversation_id}, status=201)


def _segment(data: dict[str, Any]) -> dict[str, Any]:
    segment = data.get("segment", {})
    if not isinstance(segment, dict):
        fail(400, "invalid", "segment must be an object")
    unknown = set(segment) - _SEGMENT_KEYS
    if unknown:
        fail(
            400,
            "invalid",
            f"unknown segment keys {sorted(unknown)}: use {', '.join(sorted(_SEGMENT_KEYS))}",
        )
    if "memory" in segment and not isinstance(segment["memory"], dict):
        fail(400, "invalid", "segment.memory must be an object of memory keys and values")
    for key in ("seen_after", "seen_before"):
        value = segment.get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            fail(400, "invalid", f"segment.{key} must be a Unix time in seconds")
    customers = segment.get("customers")
    if customers is not None and not (
        isinstance(customers, list)
        and len(customers) <= 100_000
        and all(isinstance(c, int) and not isinstance(c, bool) for c in customers)
    ):
        fail(400, "invalid", "segment.customers must be a list of customer ids")
    consent = segment.get("consent")
    if consent is not None and not isinstance(consent, str):
        fail(400, "invalid", "segment.consent must be a purpose name")
    return segment


@authed
async def create_campaign(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/campaigns (admin): one message (`text`) or a flow (`flow`, `args`) to a
    segment; 201 with its progress, or 422
    `empty_segment` when the segment selects nobody (nothing is sent or recorded)."""
    admin_only(who)
    data = await json_body(request)
    flow = data.get("flow")
    if flow is not None:
        if "text" in data or "choices" in data:
            fail(400, "invalid", "a campaign sends a text or starts a flow, not both")
        if not isinstance(flow, str) or not flow:
            fail(400, "invalid", "flow must be the name of a flow of the App")
        flow_args = data.get("args", {})
        if not isinstance(flow_args, dict):
            fail(400, "invalid", "args must be an object")
        purpose = data.get("purpose", "service")
        if not isinstance(purpose, str):
            fail(400, "invalid", "purpose must be a string")
        text, choices = None, list[object]()
    else:
        text, choices, purpose = _message_fields(data)
        flow_args = {}
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME:
        fail(400, "invalid", f"name must be a string of at most {MAX_NAME} characters")
    segment = _segment(data)
    feature = _feature(console)
    try:
        if segment.get("consent"):
            feature.check_purpose(str(segment["consent"]))
        campaign_id, _ = await feature.create_campaign(
            name=name.strip() or (text or f"flow {flow}").strip()[:MAX_NAME],
            message=text,
            purpose=purpose,
            segment=segment,
            choices=choices,
            flow=flow,
            args=flow_args,
            actor=f"agent:{who.agent.id}",
        )
    except BadMessage as exc:
        fail(400, "invalid", str(exc))
    if campaign_id is None:
        fail(422, "empty_segment", "no customer matches this segment: nothing was sent")
    campaign = await feature.db.campaign(campaign_id)
    return web.json_response({"campaign": campaign}, status=201)


@authed
async def campaigns(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/campaigns (admin): the newest campaigns with their progress."""
    admin_only(who)
    return web.json_response({"campaigns": await _feature(console).db.campaigns()})


def _campaign_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        fail(404, "not_found", "no such campaign")
    return int(raw)


@authed
async def campaign(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/campaigns/{id} (admin): a campaign's live counts (pending, queued, sent,
    failed, skipped and why)."""
    admin_only(who)
    found = await _feature(console).db.campaign(_campaign_id(request))
    if found is None:
        fail(404, "not_found", "no such campaign")
    return web.json_response({"campaign": found})


@authed
async def recipients(request: web.Request, console: Console, who: Principal) -> web.Response:
    """GET /api/campaigns/{id}/recipients?status=skipped (admin): its messages, newest first."""
    admin_only(who)
    campaign_id = _campaign_id(request)
    status = request.query.get("status")
    if status not in (None, "pending", "queued", "sending", "skipped", "uncertain"):
        fail(400, "invalid", "status is pending, queued, sending, skipped or uncertain")
    records = await _feature(console).db.of_campaign(campaign_id, status=status, limit=500)
    return web.json_response({"recipients": [r.to_json() for r in records]})


@authed
async def cancel(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/campaigns/{id}/cancel (admin): recipients not yet queued are skipped."""
    admin_only(who)
    campaign_id = _campaign_id(request)
    feature = _feature(console)
    if not await feature.db.cancel_campaign(campaign_id):
        fail(409, "not_running", "no running campaign with this id")
    return web.json_response({"campaign": await feature.db.campaign(campaign_id)})


def routes() -> list[web.RouteDef]:
    """The proactive messages' and campaigns' routes."""
    return [
        web.post("/api/customers/{id}/messages", send),
        web.get("/api/customers/{id}/proactive", listing),
        web.put("/api/customers/{id}/preferred-channel", prefer),
        web.post("/api/customers/{id}/conversation", start),
        web.post("/api/campaigns", create_campaign),
        web.get("/api/campaigns", campaigns),
        web.get("/api/campaigns/{id}", campaign),
        web.get("/api/campaigns/{id}/recipients", recipients),
        web.post("/api/campaigns/{id}/cancel", cancel),
    ]
