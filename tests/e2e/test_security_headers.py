"""Every response of Baton carries the security headers: every route of the app (the sandbox's
included), errors included, and the pages keep their own Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.console.pages import CSP as CONSOLE_CSP
from bot.demo import app as demo_app
from bot.sandbox import build_app
from bot.settings import load_settings
from tests.support.baton_process import free_port


def _paths(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route, its variables filled in."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if "path" in info:
            path = info["path"]
        elif "formatter" in info:
            path = re.sub(r"\{[^}]*\}", "1", info["formatter"])
        else:
            path = info["prefix"].rstrip("/") + "/x"
        method = "GET" if route.method == "*" else route.method
        found.append((method, path))
    return found


def _missing(response: aiohttp.ClientResponse) -> list[str]:
    headers = response.headers
    missing = []
    if headers.get("X-Content-Type-Options") != "nosniff":
        missing.append("X-Content-Type-Options")
    if not headers.get("Referrer-Policy"):
        missing.append("Referrer-Policy")
    if headers.get("X-Frame-Options") != "DENY":
        missing.append("X-Frame-Options")
    return missing


async def test_every_route_and_every_error_has_the_security_headers(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    app = await build_app(settings, demo_app, base_url=base)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        paths = _paths(app)
        assert ("GET", "/chat/chat.js") in paths
        assert ("GET", "/healthz") in paths
        paths += [("GET", "/no/such/page"), ("DELETE", "/healthz"), ("POST", "/api/login")]
        wrong: dict[str, list[str]] = {}
        statuses = set()
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for method, path in paths:
                async with http.request(
                    method, f"{base}{path}", params={"wait": "0"}, allow_redirects=False
                ) as r:
                    statuses.add(r.status)
                    if missing := _missing(r):
                        wrong[f"{method} {path} -> {r.status}"] = missing
            async with http.get(f"{base}/console") as r:
                assert r.headers["Content-Security-Policy"] == CONSOLE_CSP
            async with http.get(f"{base}/chat") as r:
                assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert wrong == {}
        assert {200, 404, 405} <= statuses
    finally:
        await runner.cleanup()
