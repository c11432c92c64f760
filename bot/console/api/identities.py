"""Linking channels (admin): an admin vouches that two identities are one person, or undoes it."""

from __future__ import annotations

from aiohttp import web

from bot.console.api._request import admin_only, authed, json_body, path_id
from bot.console.api.customers import audit_link
from bot.console.auth import Principal, fail
from bot.console.core import Console

__all__ = ["routes"]


@authed
async def link_identities(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/identities/link (admin): merge the customers of two identities."""
    admin_only(who)
    data = await json_body(request)
    a, b = data.get("identity_a"), data.get("identity_b")
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or a == b:
        fail(400, "invalid", "identity_a and identity_b are two identity ids")
    try:
        merged = await console.linking.link(a, b, actor=f"agent:{who.agent.id}")
    except LookupError:
        fail(404, "not_found", "no such identity")
    if merged is None:
        return web.json_response({"customer_id": None, "merge_log_id": None})
    await audit_link(
        request, console, who, "link", {"customer_id": merged.keep, "merged": merged.other}
    )
    return web.json_response({"customer_id": merged.keep, "merge_log_id": merged.log_id})


@authed
async def unlink_identity(request: web.Request, console: Console, who: Principal) -> web.Response:
    """POST /api/identities/{id}/unlink (admin): give an identity its own customer again."""
    admin_only(who)
    identity_id = path_id(request)
    try:
        unlinked = await console.linking.unlink(identity_id, actor=f"agent:{who.agent.id}")
    except LookupError:
        fail(404, "not_found", "no such identity")
    if unlinked is None:
        fail(409, "not_linked", "the identity is its customer's only one")
    await audit_link(
        request,
        console,
        who,
        "unlink",
        {"customer_id": unlinked.customer_id, "identity_id": identity_id},
    )
    return web.json_response(
        {"customer_id": unlinked.new_customer_id, "merge_log_id": unlinked.log_id}
    )


def routes() -> list[web.RouteDef]:
    """The identities' routes."""
    return [
        web.post("/api/identities/link", link_identities),
        web.post("/api/identities/{id}/unlink", unlink_identity),
    ]
