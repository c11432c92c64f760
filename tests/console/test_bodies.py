"""Bodies no console sends: JSON nested 1,000 deep, bodies over the size limit, other content
types, bytes that are not UTF-8 and lone surrogates, at the login and at an authenticated
endpoint. Each gets a JSON error with a 4xx through real HTTP, or is stored; never a 500."""

from __future__ import annotations

import json

from bot.demo import app
from tests.console.support import TEXTS, Browser, add_agent, customer_ids
from tests.support.baton import Running, running_baton
from tests.support.webchat import WebChat

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
NOT_UTF8 = b'{"email": "grace\xff@example.com", "password": "x"}'


def refused(answer: tuple[int, object]) -> tuple[int, str]:
    status, body = answer
    assert isinstance(body, dict), body
    return status, body["error"]["code"]


async def held_conversation(baton: Running, agent: Browser) -> tuple[WebChat, str]:
    chat = WebChat(baton.engine, baton.web, "c1")
    await chat.send("agent")
    await chat.expect(TEXTS.human_waiting)
    await chat.next()
    _, conversation = await customer_ids(baton, chat)
    base = f"/api/conversations/{conversation}"
    assert (await agent.post(f"{base}/claim"))[0] == 200
    await chat.expect("Grace from our team is here to help you.")
    return chat, base


async def test_the_login_refuses_bodies_it_cannot_read_with_a_4xx(sqlite_url: str) -> None:
    large = json.dumps({"email": "grace@example.com", "password": "x" * 300 * 1024}).encode()
    huge = json.dumps({"email": "grace@example.com", "password": "x" * 2 * 1024**2}).encode()
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as browser:
        await add_agent(baton, "grace@example.com", "Grace")
        deep = await browser.send_raw("/api/session", DEEP)
        deep_object = await browser.send_raw("/api/session", DEEP_OBJECT)
        over_the_api = await browser.send_raw("/api/session", large)
        too_large = await browser.send_raw("/api/session", huge)
        not_utf8 = await browser.send_raw("/api/session", NOT_UTF8)
        latin1 = await browser.send_raw("/api/session", b"{}", "application/json; charset=latin-1")
        text = await browser.send_raw("/api/session", b"{}", "text/plain")
        logged_in = await browser.login("grace@example.com")
    assert refused(deep) == (400, "bad_json")
    assert refused(deep_object) == (400, "bad_json")
    assert refused(over_the_api) == (413, "too_large")
    assert too_large[0] == 413  # refused before any handler, by the server's body limit
    assert refused(not_utf8) == (400, "bad_json")
    assert refused(latin1) == (415, "json_only")
    assert refused(text) == (415, "json_only")
    assert logged_in[0] == 200


async def test_a_reply_refuses_bodies_it_cannot_read_then_sends(sqlite_url: str) -> None:
    large = json.dumps({"text": "x" * 300 * 1024}).encode()
    longest = json.dumps({"text": "\U0001f600" * 4000}).encode()  # the most, all escaped
    async with running_baton(sqlite_url, app) as baton, Browser(baton) as grace:
        await add_agent(baton, "grace@example.com", "Grace")
        await grace.login("grace@example.com")
        chat, base = await held_conversation(baton, grace)
        deep = await grace.send_raw(f"{base}/messages", DEEP)
        deep_text = await grace.send_raw(f"{base}/messages", b'{"text": ' + DEEP + b"}")
        too_large = await grace.send_raw(f"{base}/messages", large)
        not_utf8 = await grace.send_raw(f"{base}/messages", b'{"text": "\xc3\x28"}')
        form = await grace.send_raw(
            f"{base}/messages", b"text=hello", "application/x-www-form-urlencoded"
        )
        deep_note = await grace.send_raw(f"{base}/notes", DEEP_OBJECT)
        sent = await grace.post(f"{base}/messages", {"text": "Hello Ada"})
        await chat.expect("Hello Ada")
        emoji = await grace.send_raw(f"{base}/messages", longest)
    assert refused(deep) == (400, "bad_json")
    assert refused(deep_text) == (400, "bad_json")
    assert refused(too_large) == (413, "too_large")
    assert refused(not_utf8) == (400, "bad_json")
    assert refused(form) == (415, "json_only")
    assert refused(deep_note) == (400, "bad_json")
    assert sent[0] == 201
    assert emoji[0] == 201


async def test_a_lone_surrogate_in_a_login_or_a_reply_is_refused_or_stored(
    database_url: str,
) -> None:
    # Raw JSON: the escape "\ud800" decodes to a lone surrogate, which no driver can encode.
    login = b'{"email": "grace\\ud800@example.com", "password": "correct horse battery staple"}'
    async with running_baton(database_url, app) as baton, Browser(baton) as grace:
        await add_agent(baton, "grace@example.com", "Grace")
        odd_login = await grace.send_raw("/api/session", login)
        await grace.login("grace@example.com")
        chat, base = await held_conversation(baton, grace)
        sent = await grace.send_raw(f"{base}/messages", b'{"text": "before \\ud800 after"}')
        note = await grace.send_raw(f"{base}/notes", b'{"text": "note \\udc00"}')
        await chat.expect("before \ufffd after")
        history = await grace.get(f"{base}/messages")
        detail = await grace.get(base)
    assert refused(odd_login) == (401, "bad_login")
    assert sent[0] == 201
    assert history[1]["messages"][-1]["text"] == "before \ufffd after"
    assert note[0] == 201
    assert [n["text"] for n in detail[1]["notes"]] == ["note \ufffd"]
