"""The OpenAPI 3.1 description of the console's JSON API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

__all__ = ["document"]

_JSON = "application/json"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any] | None = None, status: str = "200") -> Any:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {_JSON: {"schema": schema}}
    return {status: response}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: "Invalid input, or a body that is not JSON (or nested over 64 deep)",
        401: "Not logged in (or the token is unknown)",
        403: "Missing CSRF token, untrusted origin, or not an admin",
        404: "No such conversation, or not one this agent may see",
        409: "Lost a race or not yours to do (code: taken, not_holder, customer_wrote, exists)",
        413: "The body is over the size limit (256 KiB)",
        415: "The body must be application/json, in UTF-8",
        422: "The campaign's segment selects no customer (code: empty_segment); nothing sent",
        429: "Too many failed logins",
    }
    return {
        str(s): {"description": words[s], "content": {_JSON: {"schema": _ref("Error")}}}
        for s in statuses
    }


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {_JSON: {"schema": schema}}}


def _obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number", "description": "Unix seconds"}
_NULL_NUM = {"type": ["number", "null"], "description": "Unix seconds"}
_TEXT = _obj(["text"], text={"type": "string", "maxLength": 4000})
_SEEN = _obj(seen={"type": "integer", "description": "The newest message id the agent read"})
_COMMON = (401, 403, 404, 409)


def _action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["conversations"],
        "parameters": [_ID],
        "responses": {**_ok("Done", _obj(ok={"type": "boolean"})), **_errors(400, *_COMMON)},
    }
    if body is not None:
        op["requestBody"] = _body(body, required=False)
    return {"post": op}


_CUSTOMER = {**_ID, "description": "The customer's id"}
_PROACTIVE = _obj(
    ["id", "customer_id", "status"],
    id=_INT,
    customer_id=_INT,
    campaign_id={"type": ["integer", "null"]},
    purpose=_STR,
    text=_STR,
    status={"enum": ["pending", "sent", "skipped", "failed", "uncertain"]},
    delivery_status={"type": ["string", "null"]},
    reason_code={
        "type": ["string", "null"],
        "description": "Why it was skipped: opted_out, unreachable, no_consent, "
        "consent_withdrawn, no_channel, no_customer, cancelled; uncertain: Baton stopped "
        "mid-send, so it is not sent again",
    },
    reason={"type": ["string", "null"]},
    channel={"type": ["string", "null"]},
    message_id={"type": ["integer", "null"]},
    source={"enum": ["engine", "api", "cli", "campaign"]},
    actor={"type": ["string", "null"]},
    created_at=_NUM,
)
_CAMPAIGN = _obj(
    ["id", "status", "total", "counts"],
    id=_INT,
    name=_STR,
    purpose=_STR,
    text=_STR,
    segment={"type": "object"},
    status={"enum": ["running", "done", "cancelled"]},
    total=_INT,
    flow={"type": "string", "description": "A flow campaign: the flow started"},
    args={"type": "object", "description": "A flow campaign: the flow's ctx.args"},
    counts=_obj(
        pending=_INT,
        queued=_INT,
        sent=_INT,
        failed=_INT,
        skipped=_INT,
        uncertain=_INT,
        started={"type": "integer", "description": "A flow campaign: flows started"},
    ),
    skipped_reasons={"type": "object", "additionalProperties": _INT},
    created_by={"type": ["string", "null"]},
    created_at=_NUM,
    finished_at=_NULL_NUM,
)
_MESSAGE_IN = _obj(
    ["text"],
    text={"type": "string", "minLength": 1, "maxLength": 4000},
    choices={
        "type": "array",
        "maxItems": 10,
        "items": {"oneOf": [_STR, {"type": "array", "items": _STR}]},
        "description": "Labels, or [value, label] pairs: buttons, or numbered options on SMS",
    },
    purpose={"type": "string", "default": "service", "description": "One of BATON_PURPOSES"},
)


def _proactive_paths() -> dict[str, Any]:
    """Proactive messages and campaigns (`bot.console.api.proactive`)."""
    admin = ["campaigns"]
    customers = ["proactive messages"]
    segment = _obj(
        consent={"type": "string", "description": "Customers who granted this purpose"},
        memory={"type": "object", "description": "Memory keys and the values they must have"},
        seen_after=_NUM,
        seen_before=_NUM,
        customers={"type": "array", "items": _INT},
    )
    return {
        "/api/customers/{id}/messages": {
            "post": {
                "summary": "Message a customer first: on their preferred channel, else the "
                "last used, else any reachable one; skipped (with the reason) when opted out, "
                "blocked or without consent for the purpose",
                "tags": customers,
                "parameters": [_CUSTOMER],
                "requestBody": _body(_MESSAGE_IN),
                "responses": {
                    **_ok("Recorded", _obj(message=_PROACTIVE), "201"),
                    **_errors(400, 401, 403, 404, 413, 415),
                },
            }
        },
        "/api/customers/{id}/proactive": {
            "get": {
                "summary": "A customer's proactive and campaign messages and their status",
                "tags": customers,
                "parameters": [_CUSTOMER],
                "responses": {
                    **_ok("Messages", _obj(messages={"type": "array", "items": _PROACTIVE})),
                    **_errors(401, 404),
                },
            }
        },
        "/api/customers/{id}/preferred-channel": {
            "put": {
                "summary": "Set (or clear with null) the channel proactive messages prefer",
                "tags": customers,
                "parameters": [_CUSTOMER],
                "requestBody": _body(_obj(["channel"], channel={"type": ["string", "null"]})),
                "responses": {
                    **_ok(
                        "Set",
                        _obj(customer_id=_INT, preferred_channel={"type": ["string", "null"]}),
                    ),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/api/customers/{id}/conversation": {
            "post": {
                "summary": "Start a new conversation with a customer whose conversation is with "
                "the bot or resolved; held by you at once (admins: any customer; agents: one "
                "they helped before)",
                "tags": customers,
                "parameters": [_CUSTOMER],
                "requestBody": _body(_obj(reason={"type": "string", "maxLength": 200})),
                "responses": {
                    **_ok("Started", _obj(conversation_id=_INT), "201"),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/api/campaigns": {
            "get": {
                "summary": "The newest campaigns and their progress (admin)",
                "tags": admin,
                "responses": {
                    **_ok("Campaigns", _obj(campaigns={"type": "array", "items": _CAMPAIGN})),
                    **_errors(401, 403),
                },
            },
            "post": {
                "summary": "One message (text) or a flow (flow, args) to a segment, "
                "throttled per channel (admin)",
                "tags": admin,
                "requestBody": _body(
                    {
                        "oneOf": [
                            {"allOf": [_MESSAGE_IN, _obj(name=_STR, segment=segment)]},
                            _obj(
                                ["flow"],
                                flow={
                                    "type": "string",
                                    "description": "A flow of the App, started for each "
                                    "recipient the channel rule allows (once, even after a "
                                    "restart)",
                                },
                                args={"type": "object", "description": "The flow's ctx.args"},
                                purpose={"type": "string", "default": "service"},
                                name=_STR,
                                segment=segment,
                            ),
                        ]
                    }
                ),
                "responses": {
                    **_ok("Started", _obj(campaign=_CAMPAIGN), "201"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/campaigns/{id}": {
            "get": {
                "summary": "A campaign's live counts (admin)",
                "tags": admin,
                "parameters": [_ID],
                "responses": {
                    **_ok("Campaign", _obj(campaign=_CAMPAIGN)),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/api/campaigns/{id}/recipients": {
            "get": {
                "summary": "A campaign's messages, newest first (admin)",
                "tags": admin,
                "parameters": [
                    _ID,
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {
                            "enum": ["pending", "queued", "sending", "skipped", "uncertain"]
                        },
                    },
                ],
                "responses": {
                    **_ok("Recipients", _obj(recipients={"type": "array", "items": _PROACTIVE})),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/api/campaigns/{id}/cancel": {
            "post": {
                "summary": "Cancel a campaign: recipients not yet queued are skipped (admin)",
                "tags": admin,
                "parameters": [_ID],
                "responses": {
                    **_ok("Cancelled", _obj(campaign=_CAMPAIGN)),
                    **_errors(401, 403, 409),
                },
            }
        },
    }


def _schemas() -> dict[str, Any]:
    ref = _obj(["id", "name"], id=_INT, name=_STR)
    nullable_ref = {"oneOf": [ref, {"type": "null"}]}
    return {
        "Error": _obj(["error"], error=_obj(["code", "message"], code=_STR, message=_STR)),
        "AgentRef": ref,
        "Agent": _obj(
            ["id", "name", "role"],
            id=_INT,
            name=_STR,
            role={"enum": ["agent", "admin"]},
            email=_STR,
            active={"type": "boolean"},
            created_at=_NUM,
            last_login_at=_NULL_NUM,
        ),
        "Summary": _obj(
            flow={"type": ["string", "null"]},
            step={"type": ["string", "null"], "description": "The open question"},
            answers={
                "type": "array",
                "items": _obj(question=_STR, answer={}, remembered={"type": "boolean"}),
            },
            memory={"type": "object"},
            identities={"type": "array", "items": {"type": "object"}},
            llm={
                "type": "object",
                "description": "With an LLM configured: its summary for the agent (text null "
                "and error set when the call failed), model, tokens_in, tokens_out, cost, "
                "attempts, seconds, at; absent until it is made",
            },
        ),
        "Handoff": _obj(
            id=_INT,
            status={"enum": ["waiting", "agent", "resolved", "handed_back", "cancelled", "left"]},
            trigger={"enum": ["customer", "flow", "misunderstood"]},
            reason={"type": ["string", "null"]},
            summary=_ref("Summary"),
            waiting_since=_NUM,
            position={"type": ["integer", "null"], "description": "Place in the queue"},
            deadline_at={**_NUM, "description": "Reply-by deadline"},
            first_reply_at=_NULL_NUM,
            breached={"type": "boolean"},
            agent=nullable_ref,
            assigned_to=nullable_ref,
            claimed_at=_NULL_NUM,
            ended_at=_NULL_NUM,
        ),
        "QueueItem": {
            "allOf": [
                _ref("Handoff"),
                _obj(
                    handoff_id=_INT,
                    customer_id=_INT,
                    name=_STR,
                    channel={"type": ["string", "null"]},
                    last_message={"type": ["object", "null"]},
                ),
            ],
            "description": "`id` is the conversation's id",
        },
        "Message": _obj(
            id=_INT,
            direction={"enum": ["in", "out"]},
            author={"enum": ["customer", "bot", "agent", "system"]},
            channel=_STR,
            text={"type": ["string", "null"]},
            choices={"type": "array", "items": _STR},
            media={"type": "array", "items": {"type": "object"}},
            delivery_status={"type": ["string", "null"]},
            error={"type": ["string", "null"]},
            created_at=_NUM,
            agent=nullable_ref,
            pressed={"type": "boolean", "description": "A button press; text is its label"},
        ),
        "Conversation": _obj(
            id=_INT,
            status={"enum": ["bot", "waiting", "agent", "resolved"]},
            now=_NUM,
            customer=_obj(
                id=_INT,
                name=_STR,
                memory={"type": "object"},
                identities={"type": "array", "items": {"type": "object"}},
            ),
            handoff={"oneOf": [_ref("Handoff"), {"type": "null"}]},
            earlier={"type": "array", "items": _ref("Handoff")},
            notes={"type": "array", "items": {"type": "object"}},
            events={"type": "array", "items": {"type": "object"}},
            can={"type": "object", "additionalProperties": {"type": "boolean"}},
        ),
        "Token": _obj(
            id=_INT,
            name=_STR,
            agent=ref,
            created_by=ref,
            created_at=_NUM,
            last_used_at=_NULL_NUM,
            revoked={"type": "boolean"},
            token={"type": "string", "description": "Only in the answer that creates it"},
        ),
    }


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    admin = ["admin"]
    paths: dict[str, Any] = {
        "/api/session": {
            "post": {
                "summary": "Log in; sets the session cookie and returns the CSRF token",
                "tags": ["session"],
                "security": [],
                "requestBody": _body(_obj(["email", "password"], email=_STR, password=_STR)),
                "responses": {
                    **_ok("Logged in", _obj(agent=_ref("Agent"), csrf_token=_STR)),
                    **_errors(400, 401, 403, 413, 415, 429),
                },
            },
            "get": {
                "summary": "Who is logged in, and the CSRF token for changes",
                "tags": ["session"],
                "responses": {
                    **_ok(
                        "The session",
                        _obj(
                            agent=_ref("Agent"),
                            csrf_token={"type": ["string", "null"]},
                            now=_NUM,
                            reply_by_warning_seconds={"type": "number"},
                        ),
                    ),
                    **_errors(401),
                },
            },
            "delete": {
                "summary": "Log out (the session ends server-side)",
                "tags": ["session"],
                "responses": {**_ok("Logged out"), **_errors(401, 403)},
            },
        },
        "/api/sessions": {
            "get": {
                "summary": "My active sessions",
                "tags": ["session"],
                "responses": {**_ok("Sessions"), **_errors(401)},
            }
        },
        "/api/sessions/{sid}": {
            "delete": {
                "summary": "Log one of my sessions out",
                "tags": ["session"],
                "parameters": [{"name": "sid", "in": "path", "required": True, "schema": _STR}],
                "responses": {**_ok("Ended"), **_errors(401, 403, 404)},
            }
        },
        "/api/conversations": {
            "get": {
                "summary": "Open conversations this agent may see: the queue, what they hold or "
                "is reserved for them (admins: all)",
                "tags": ["conversations"],
                "responses": {
                    **_ok(
                        "Oldest first",
                        _obj(now=_NUM, items={"type": "array", "items": _ref("QueueItem")}),
                    ),
                    **_errors(401),
                },
            }
        },
        "/api/conversations/{id}": {
            "get": {
                "summary": "A conversation: customer panel, handoffs, notes, events, allowed "
                "actions",
                "tags": ["conversations"],
                "parameters": [_ID],
                "responses": {**_ok("Found", _ref("Conversation")), **_errors(401, 404)},
            }
        },
        "/api/conversations/{id}/messages": {
            "get": {
                "summary": "The customer's messages on every channel, oldest first",
                "tags": ["conversations"],
                "parameters": [
                    _ID,
                    {"name": "before", "in": "query", "schema": _INT},
                    {"name": "limit", "in": "query", "schema": {**_INT, "maximum": 500}},
                ],
                "responses": {
                    **_ok(
                        "Messages",
                        _obj(messages={"type": "array", "items": _ref("Message")}),
                    ),
                    **_errors(400, 401, 404),
                },
            },
            "post": {
                "summary": "Reply on the customer's current channel, through the outbox",
                "description": "files: ids from POST /api/conversations/{id}/files, sent as "
                "attachments (text may then be empty).",
                "tags": ["conversations"],
                "parameters": [_ID],
                "requestBody": _body(
                    _obj(text=_STR, files={"type": "array", "items": _INT, "maxItems": 10})
                ),
                "responses": {
                    **_ok("Queued", _obj(id=_INT), "201"),
                    **_errors(400, *_COMMON, 413, 415),
                },
            },
        },
        "/api/conversations/{id}/files": {
            "post": {
                "summary": "Keep an attachment for a reply: the body is the file",
                "tags": ["conversations"],
                "parameters": [
                    _ID,
                    {"name": "name", "in": "query", "required": False, "schema": _STR},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "responses": {
                    **_ok(
                        "Kept",
                        _obj(id=_INT, name=_STR, mime_type=_STR, size=_INT),
                        "201",
                    ),
                    **_errors(400, *_COMMON, 413, 415),
                },
            }
        },
        "/api/conversations/{id}/notes": {
            "post": {
                "summary": "An internal note (never shown to the customer)",
                "tags": ["conversations"],
                "parameters": [_ID],
                "requestBody": _body(_TEXT),
                "responses": {**_ok("Added", _obj(id=_INT), "201"), **_errors(400, *_COMMON)},
            }
        },
        "/api/conversations/{id}/follow-up": {
            "get": {
                "summary": "The customer's surveys (newest first) and scheduled work: timers of "
                "sleeping flows, flows started for them, events for the flows, with their status",
                "tags": ["conversations"],
                "parameters": [_ID],
                "responses": {
                    **_ok(
                        "Follow-up",
                        _obj(
                            now=_NUM,
                            surveys={"type": "array", "items": {"type": "object"}},
                            scheduled={"type": "array", "items": {"type": "object"}},
                        ),
                    ),
                    **_errors(401, 404),
                },
            }
        },
        "/api/conversations/{id}/claim": _action("Take a waiting conversation"),
        "/api/conversations/{id}/assign": _action(
            "Reserve the conversation for another agent", _obj(["agent_id"], agent_id=_INT)
        ),
        "/api/conversations/{id}/release": _action("Put the conversation back in the queue"),
        "/api/conversations/{id}/resolve": _action(
            "Resolve; the bot answers the customer's next message", _SEEN
        ),
        "/api/conversations/{id}/hand-back": _action(
            "Hand back to the bot; the open question is asked again", _SEEN
        ),
        "/api/agents": {
            "get": {
                "summary": "Agents (admins see every account in full)",
                "tags": ["agents"],
                "responses": {
                    **_ok("Agents", _obj(agents={"type": "array", "items": _ref("Agent")})),
                    **_errors(401),
                },
            },
            "post": {
                "summary": "Create an agent (admin); a generated password is returned once",
                "tags": admin,
                "requestBody": _body(
                    _obj(
                        ["email", "name"],
                        email=_STR,
                        name=_STR,
                        role={"enum": ["agent", "admin"]},
                        password={"type": "string", "minLength": 12},
                    )
                ),
                "responses": {
                    **_ok(
                        "Created",
                        _obj(agent=_ref("Agent"), password={"type": ["string", "null"]}),
                        "201",
                    ),
                    **_errors(400, 401, 403, 409, 413, 415),
                },
            },
        },
        "/api/agents/{id}": {
            "patch": {
                "summary": "Change an agent (admin); deactivating ends their sessions and tokens",
                "tags": admin,
                "parameters": [_ID],
                "requestBody": _body(
                    _obj(
                        name=_STR,
                        role={"enum": ["agent", "admin"]},
                        active={"type": "boolean"},
                        password={"type": "string", "minLength": 12},
                    )
                ),
                "responses": {
                    **_ok("Changed", _obj(agent=_ref("Agent"))),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/api/identities/link": {
            "post": {
                "summary": "Link two identities: their customers become one (admin)",
                "tags": admin,
                "requestBody": _body(
                    _obj(["identity_a", "identity_b"], identity_a=_INT, identity_b=_INT)
                ),
                "responses": {
                    **_ok("Linked", _obj(customer_id=_INT, merge_log_id=_INT)),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/api/identities/{id}/unlink": {
            "post": {
                "summary": "Give an identity its own customer again (admin)",
                "tags": admin,
                "parameters": [_ID],
                "responses": {
                    **_ok("Unlinked", _obj(customer_id=_INT, merge_log_id=_INT)),
                    **_errors(401, 403, 404, 409),
                },
            }
        },
        "/api/files/{id}": {
            "get": {
                "summary": "A file a customer sent: inline for pictures, else a download",
                "tags": ["conversations"],
                "parameters": [_ID],
                "responses": {
                    "200": {"description": "The file's bytes"},
                    **_errors(401, 404),
                },
            }
        },
        "/api/canned-replies": {
            "get": {
                "summary": "Canned replies",
                "tags": ["canned replies"],
                "responses": {**_ok("Canned replies"), **_errors(401)},
            },
            "post": {
                "summary": "Add a canned reply (admin)",
                "tags": admin,
                "requestBody": _body(_obj(["title", "text"], title=_STR, text=_STR)),
                "responses": {**_ok("Added", _obj(id=_INT), "201"), **_errors(400, 401, 403)},
            },
        },
        "/api/canned-replies/{id}": {
            "delete": {
                "summary": "Delete a canned reply (admin)",
                "tags": admin,
                "parameters": [_ID],
                "responses": {**_ok("Deleted"), **_errors(401, 403, 404)},
            }
        },
        "/api/tokens": {
            "get": {
                "summary": "API tokens (admin)",
                "tags": admin,
                "responses": {
                    **_ok("Tokens", _obj(tokens={"type": "array", "items": _ref("Token")})),
                    **_errors(401, 403),
                },
            },
            "post": {
                "summary": "Create an API token acting as an agent (admin); shown once",
                "tags": admin,
                "requestBody": _body(_obj(["name"], name=_STR, agent_id=_INT)),
                "responses": {**_ok("Created", _ref("Token"), "201"), **_errors(400, 401, 403)},
            },
        },
        "/api/tokens/{id}": {
            "delete": {
                "summary": "Revoke an API token (admin)",
                "tags": admin,
                "parameters": [_ID],
                "responses": {**_ok("Revoked"), **_errors(401, 403, 404)},
            }
        },
        "/api/reports/breaches": {
            "get": {
                "summary": "Broken reply-by promises (admin)",
                "tags": admin,
                "parameters": [{"name": "since", "in": "query", "schema": _NUM}],
                "responses": {**_ok("Breaches"), **_errors(401, 403)},
            }
        },
        "/api/live": {
            "get": {
                "summary": "WebSocket of live updates: {type: queue} and {type: conversation, "
                "id}; send {type: watch, id} for delivery statuses. Needs the session and a "
                "trusted Origin.",
                "tags": ["live"],
                "responses": {
                    "101": {"description": "Switching protocols"},
                    **_errors(401, 403),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": _ok("OpenAPI 3.1"),
            }
        },
    }
    paths.update(_privacy_paths())  # customers, consents, export, erasure, the audit trail
    paths.update(_proactive_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Baton console API",
            "version": "1",
            "description": "Everything the agent console does. Log in with POST /api/session "
            "(cookie session: send X-CSRF-Token on every change) or use an API token an admin "
            "created (Authorization: Bearer baton_...). A conversation an agent may not see "
            "answers 404.",
        },
        "servers": [{"url": "/"}],
        "security": [{"session": [], "csrf": []}, {"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-baton_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "token": {"type": "http", "scheme": "bearer"},
            },
            "schemas": _schemas(),
        },
    }


def _privacy_paths() -> dict[str, Any]:
    from bot.console.api.customers import openapi_paths

    return openapi_paths(_ok, _errors, _body, _obj, _ID)
