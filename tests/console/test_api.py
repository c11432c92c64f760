"""The console's JSON API over real HTTP: logging in and out, sessions, CSRF, origins,
authorisation across agents (no reading or acting on another agent's conversation by
guessing its id), API tokens and the OpenAPI document."""

from __future__ import annotations

import argparse

import pytest

from bot.console.commands import add_agent_parser, run_agent_command
from bot.demo import app
from bot.settings import Settings
from tests.console.support import TEXTS, Browser, add_agent, customer_ids
from tests.support.baton import Running, running_baton
from tests.support.webchat import WebChat


async def waiting_customer(baton: Running, name: str) -> tuple[WebChat, int]:
    chat = WebChat(baton.engine, baton.web, name)
    await chat.send("agent")
    await chat.expect(TEXTS.human_waiting)
    await chat.next()
    _, conversation = await customer_ids(baton, chat)
    return chat, conversation


async def test_log_in_sets_a_secure_host_only_cookie_and_rotates_the_session(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        wrong = await browser.login("grace@example.com", "not the password")
        first = await browser.login("grace@example.com")
        cookie_header = browser.set_cookie
        old_cookie = browser.cookie
        again = await browser.login("GRACE@example.com")  # same browser: a new session
        with_new = await browser.get("/api/session")
        browser.cookie = old_cookie
        with_old = await browser.get("/api/session")
    assert wrong == (401, {"error": {"code": "bad_login", "message": "wrong email or password"}})
    assert first[0] == again[0] == 200
    assert first[1]["agent"]["name"] == "Grace"
    assert cookie_header.startswith("__Host-baton_session=")
    attributes = {a.strip().split("=")[0].lower() for a in cookie_header.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "samesite=strict" in cookie_header.lower().replace(" ", "")
    assert "domain" not in attributes
    assert with_new[0] == 200
    assert with_old[0] == 401


async def test_log_out_ends_the_session_on_the_server(database_url: str) -> None:
    async with running_baton(database_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        await browser.login("grace@example.com")
        stolen = browser.cookie
        bye = await browser.request("DELETE", "/api/session")
        browser.cookie = stolen  # someone kept a copy of the cookie
        after = await browser.get("/api/conversations")
    assert bye == (200, {"ok": True})
    assert after[0] == 401


async def test_changes_need_the_csrf_token_and_a_trusted_origin(database_url: str) -> None:
    async with running_baton(database_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        _, conversation = await waiting_customer(baton, "c1")
        await browser.login("grace@example.com")
        path = f"/api/conversations/{conversation}/claim"
        missing = await browser.post(path, csrf=False)
        token = browser.csrf
        browser.csrf = "forged"
        forged = await browser.post(path)
        browser.csrf = token
        cross_site = await browser.post(path, origin="https://evil.example")
        logout_cross_site = await browser.request(
            "DELETE", "/api/session", origin="https://evil.example"
        )
        claimed = await browser.post(path)
    assert (missing[0], missing[1]["error"]["code"]) == (403, "csrf")
    assert (forged[0], forged[1]["error"]["code"]) == (403, "csrf")
    assert (cross_site[0], cross_site[1]["error"]["code"]) == (403, "bad_origin")
    assert logout_cross_site[0] == 403
    assert claimed == (200, {"ok": True})


async def test_logging_in_from_another_site_or_without_json_is_refused(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        cross = await browser.post(
            "/api/session",
            {"email": "grace@example.com", "password": "x"},
            origin="https://evil.example",
        )
        async with browser.http.post(
            baton.url("/api/session"),
            data={"email": "grace@example.com", "password": "x"},  # an HTML form's body
        ) as form:
            form_status = form.status
    assert cross[0] == 403
    assert form_status == 415


async def test_an_agent_cannot_read_or_act_on_another_agents_conversation(
    database_url: str,
) -> None:
    async with (
        running_baton(database_url, app) as baton,
        Browser(baton) as grace,
        Browser(baton) as alan,
        Browser(baton) as boss,
    ):
        await add_agent(baton, "grace@example.com", "Grace")
        await add_agent(baton, "alan@example.com", "Alan")
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        for browser, email in ((grace, "grace"), (alan, "alan"), (boss, "boss")):
            await browser.login(f"{email}@example.com")
        _, held = await waiting_customer(baton, "c1")
        _, waiting = await waiting_customer(baton, "c2")
        assert (await grace.post(f"/api/conversations/{held}/claim"))[0] == 200
        base = f"/api/conversations/{held}"
        attempts = {
            "read": await alan.get(base),
            "history": await alan.get(f"{base}/messages"),
            "reply": await alan.post(f"{base}/messages", {"text": "hi from Alan"}),
            "note": await alan.post(f"{base}/notes", {"text": "peek"}),
            "claim": await alan.post(f"{base}/claim"),
            "release": await alan.post(f"{base}/release"),
            "assign": await alan.post(f"{base}/assign", {"agent_id": 2}),
            "resolve": await alan.post(f"{base}/resolve"),
            "hand back": await alan.post(f"{base}/hand-back"),
            "nonexistent": await alan.get("/api/conversations/999999"),
        }
        alan_list = await alan.get("/api/conversations")
        grace_list = await grace.get("/api/conversations")
        boss_sees = await boss.get(base)
        boss_list = await boss.get("/api/conversations")
    not_found = {"error": {"code": "not_found", "message": "no such conversation"}}
    assert attempts == dict.fromkeys(attempts, (404, not_found))
    assert [i["id"] for i in alan_list[1]["items"]] == [waiting]
    assert [(i["id"], i["status"]) for i in grace_list[1]["items"]] == [
        (held, "agent"),
        (waiting, "waiting"),
    ]
    assert boss_sees[0] == 200
    assert boss_sees[1]["can"]["reply"] is False  # admins see everything, reply after claiming
    assert [i["id"] for i in boss_list[1]["items"]] == [held, waiting]


async def test_a_reserved_conversation_is_only_for_its_agent(database_url: str) -> None:
    async with (
        running_baton(database_url, app) as baton,
        Browser(baton) as grace,
        Browser(baton) as alan,
        Browser(baton) as linus,
    ):
        await add_agent(baton, "grace@example.com", "Grace")
        alan_row = await add_agent(baton, "alan@example.com", "Alan")
        await add_agent(baton, "linus@example.com", "Linus")
        for browser, email in ((grace, "grace"), (alan, "alan"), (linus, "linus")):
            await browser.login(f"{email}@example.com")
        _, conversation = await waiting_customer(baton, "c1")
        base = f"/api/conversations/{conversation}"
        assert (await grace.post(f"{base}/claim"))[0] == 200
        assigned = await grace.post(f"{base}/assign", {"agent_id": alan_row.id})
        grace_after = await grace.get(base)
        linus_sees = await linus.get(base)
        alan_sees = await alan.get(base)
        alan_claims = await alan.post(f"{base}/claim")
    assert assigned == (200, {"ok": True})
    assert grace_after[0] == 404
    assert linus_sees[0] == 404
    assert alan_sees[0] == 200
    assert alan_sees[1]["handoff"]["assigned_to"]["name"] == "Alan"
    assert alan_claims == (200, {"ok": True})


async def test_reply_through_the_api_reaches_the_customer_with_its_delivery_status(
    database_url: str,
) -> None:
    async with running_baton(database_url, app) as baton, Browser(baton) as grace:
        await add_agent(baton, "grace@example.com", "Grace")
        await grace.login("grace@example.com")
        chat, conversation = await waiting_customer(baton, "c1")
        base = f"/api/conversations/{conversation}"
        before_claim = await grace.post(f"{base}/messages", {"text": "hello"})
        await grace.post(f"{base}/claim")
        await chat.expect("Grace from our team is here to help you.")
        sent = await grace.post(f"{base}/messages", {"text": "<b>Hello</b> Ada"})
        await chat.expect("<b>Hello</b> Ada")
        await baton.engine.idle()
        history = await grace.get(f"{base}/messages")
        note = await grace.post(f"{base}/notes", {"text": "VIP customer"})
        detail = await grace.get(base)
        empty = await grace.post(f"{base}/messages", {"text": "   "})
    assert (before_claim[0], before_claim[1]["error"]["code"]) == (409, "not_holder")
    assert sent[0] == 201
    last = history[1]["messages"][-1]
    assert (last["id"], last["author"], last["text"], last["delivery_status"]) == (
        sent[1]["id"],
        "agent",
        "<b>Hello</b> Ada",
        "sent",
    )
    assert last["agent"]["name"] == "Grace"
    assert note[0] == 201
    assert [n["text"] for n in detail[1]["notes"]] == ["VIP customer"]
    assert "VIP customer" not in [r.text for r in baton.web.replies(chat.identity)]
    assert empty[0] == 400


async def test_api_tokens_act_as_an_agent_without_csrf_until_revoked(database_url: str) -> None:
    async with (
        running_baton(database_url, app) as baton,
        Browser(baton) as boss,
        Browser(baton) as grace,
        Browser(baton) as script,
    ):
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        await add_agent(baton, "grace@example.com", "Grace")
        await boss.login("boss@example.com")
        await grace.login("grace@example.com")
        refused = await grace.post("/api/tokens", {"name": "mine"})
        created = await boss.post("/api/tokens", {"name": "reporting"})
        token = created[1]["token"]
        _, conversation = await waiting_customer(baton, "c1")
        bearer = {"Authorization": f"Bearer {token}"}
        listed = await script.request("GET", "/api/conversations", headers=bearer, origin=None)
        claimed = await script.request(
            "POST", f"/api/conversations/{conversation}/claim", headers=bearer, origin=None
        )
        tokens = await boss.get("/api/tokens")
        revoked = await boss.request("DELETE", f"/api/tokens/{created[1]['id']}")
        after = await script.request("GET", "/api/conversations", headers=bearer, origin=None)
    assert refused[0] == 403
    assert created[0] == 201
    assert token.startswith("baton_")
    assert listed[0] == 200
    assert claimed == (200, {"ok": True})
    assert "token" not in tokens[1]["tokens"][0]
    assert revoked == (200, {"ok": True})
    assert after[0] == 401


async def test_repeated_wrong_passwords_make_that_login_wait(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        wrong = [(await browser.login("grace@example.com", "guess"))[0] for _ in range(5)]
        right = await browser.login("grace@example.com")
    assert wrong == [401] * 5
    assert (right[0], right[1]["error"]["code"]) == (429, "too_many_attempts")


async def test_admins_manage_agents_and_a_deactivated_agent_is_logged_out(
    database_url: str,
) -> None:
    async with (
        running_baton(database_url, app) as baton,
        Browser(baton) as boss,
        Browser(baton) as alan,
    ):
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        await boss.login("boss@example.com")
        created = await boss.post(
            "/api/agents", {"email": "Alan@Example.com", "name": "Alan", "role": "agent"}
        )
        duplicate = await boss.post("/api/agents", {"email": "alan@example.com", "name": "A"})
        await alan.login("alan@example.com", created[1]["password"])
        agent_view = await alan.get("/api/agents")
        alan_id = created[1]["agent"]["id"]
        forbidden = await alan.request("PATCH", f"/api/agents/{alan_id}", {"role": "admin"})
        off = await boss.request("PATCH", f"/api/agents/{alan_id}", {"active": False})
        after = await alan.get("/api/conversations")
    assert created[0] == 201
    assert created[1]["agent"]["email"] == "alan@example.com"
    assert len(created[1]["password"]) >= 16
    assert (duplicate[0], duplicate[1]["error"]["code"]) == (409, "exists")
    assert "email" not in agent_view[1]["agents"][0]
    assert forbidden[0] == 403
    assert off[0] == 200
    assert after[0] == 401


async def test_canned_replies(sqlite_url: str) -> None:
    async with (
        running_baton(sqlite_url, app) as baton,
        Browser(baton) as boss,
        Browser(baton) as grace,
    ):
        await add_agent(baton, "boss@example.com", "Boss", role="admin")
        await add_agent(baton, "grace@example.com", "Grace")
        await boss.login("boss@example.com")
        await grace.login("grace@example.com")
        added = await boss.post("/api/canned-replies", {"title": "Hello", "text": "Hi! How can"})
        by_agent = await grace.post("/api/canned-replies", {"title": "x", "text": "y"})
        listed = await grace.get("/api/canned-replies")
    assert added[0] == 201
    assert by_agent[0] == 403
    assert listed[1]["canned_replies"] == [
        {"id": added[1]["id"], "title": "Hello", "text": "Hi! How can"}
    ]


async def test_the_openapi_document_describes_every_api_route(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as browser:
        status, doc = await browser.get("/api/openapi.json")
        routes = {
            (route.method.lower(), route.resource.canonical)
            for route in baton.app.router.routes()
            if route.resource is not None
            and route.resource.canonical.startswith("/api/")
            and route.method != "HEAD"
        }
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert status == 200
    assert doc["openapi"] == "3.1.0"
    assert routes == documented


async def test_baton_agent_add_generates_a_password_that_logs_in(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_agent_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "agent",
            "add",
            "Ada@Example.com",
            "--name",
            "Ada",
            "--role",
            "admin",
            "--generate-password",
        ]
    )
    code = await run_agent_command(args, Settings(database_url=sqlite_url))
    again = await run_agent_command(args, Settings(database_url=sqlite_url))
    out = capsys.readouterr()
    password = out.out.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as browser:
        status, body = await browser.login("ada@example.com", password)
    assert code == 0
    assert "added admin Ada <ada@example.com>" in out.out
    assert again == 1
    assert "already exists" in out.err
    assert (status, body["agent"]["role"]) == (200, "admin")


async def test_baton_agent_add_takes_a_password_piped_by_a_script(sqlite_url: str) -> None:
    import asyncio
    import os
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *("agent", "add", "ops@example.com", "--name", "Ops"),
        env={**os.environ, "BATON_DATABASE_URL": sqlite_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(b"Piped-secret-4711\n"), 60)
    assert proc.returncode == 0, out.decode()
    assert "Password (shown once" not in out.decode()
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as browser:
        status, _ = await browser.login("ops@example.com", "Piped-secret-4711")
    assert status == 200
