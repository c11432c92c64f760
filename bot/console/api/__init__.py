"""The console's JSON API under /api/: everything the console page does, for scripts too.

Authenticated by the console session (cookie + `X-CSRF-Token` on changes) or by an API token
(`Authorization: Bearer baton_...`). Every conversation endpoint checks, server-side, that
the agent may see the conversation (`policy.can_see`); otherwise it answers 404. Errors are
`{"error": {"code": "...", "message": "..."}}`; a body that cannot be read (not JSON, nested too
deep, too large, not UTF-8, another content type) is `bad_json` (400), `too_large` (413) or
`json_only` (415). Described at /api/openapi.json.

One module per resource, each with its `routes()`: `session` (logging in and out, sessions),
`conversations` (the queue, a conversation, the handoff actions), `messages` (history, replies,
notes), `agents`, `canned` (canned replies), `tokens` (API tokens), `reports`, `identities`
(linking channels), `files` (files customers sent, behind the same authorisation),
`followup` (a customer's surveys and scheduled work) and `customers` (search, export,
erasure, consents, the audit trail);
`_request` holds what the handlers share and `_shapes` the shared JSON.
"""

from __future__ import annotations

from aiohttp import web

from bot.console import openapi
from bot.console.api import (
    agents,
    canned,
    conversations,
    customers,
    files,
    followup,
    identities,
    messages,
    reports,
    session,
    tokens,
)

__all__ = ["routes"]


async def _openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json: this API, described."""
    return web.json_response(openapi.document())


def routes() -> list[web.RouteDef]:
    """The API routes."""
    return [
        web.get("/api/openapi.json", _openapi),
        *session.routes(),
        *conversations.routes(),
        *messages.routes(),
        *agents.routes(),
        *canned.routes(),
        *tokens.routes(),
        *reports.routes(),
        *identities.routes(),
        *files.routes(),
        *followup.routes(),
        *customers.routes(),
    ]
