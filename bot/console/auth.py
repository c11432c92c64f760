"""Who is asking: agents' passwords, server-side sessions, CSRF, origins and API tokens.

- Passwords are hashed with argon2id at OWASP's parameters (19 MiB, t=2, p=1); a hash made
  with weaker parameters is upgraded at the next login.
- Failed logins are throttled per (email, client address): after a few, that pair waits, twice
  as long after each further failure, while the same account from elsewhere and other agents
  behind the same address log in as usual. A much higher ceiling per address stops password
  spraying. The answer never tells whether an email is an account: unknown emails, wrong
  passwords and deactivated accounts get the same 401, and a throttled pair the same 429
  whether its account exists or not. The client address is the connection's, or the one
  `X-Forwarded-For` names when the connection comes from `BATON_TRUSTED_PROXIES`.
- A login creates a new session (and deletes the one the browser had: rotation). The cookie
  `__Host-baton_session` is Secure, HttpOnly, SameSite=Strict and path /; it holds a random
  token whose SHA-256 is the session id in the database, so logging out or an expired
  session is the end of it server-side. Sessions end after `BATON_CONSOLE_SESSION_HOURS`, or
  `BATON_CONSOLE_IDLE_MINUTES` without use.
- Every state-changing request authenticated by the cookie carries the session's CSRF token
  in `X-CSRF-Token`, and a browser's `Origin` must be the server's own (or an allowed one).
- API tokens (`Authorization: Bearer baton_...`), created by admins, act as one agent; they
  are not ambient credentials, so they need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NoReturn

from aiohttp import web
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from storage import AgentRow, SessionRow

if TYPE_CHECKING:
    from bot.console.core import Console

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "Principal",
    "allowed_origins",
    "authenticate",
    "fail",
    "hash_password",
    "log_in",
    "log_out",
    "new_password",
    "new_token",
    "token_hash",
    "verify_password",
]

COOKIE = "__Host-baton_session"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "baton_"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TOUCH_EVERY = 60.0
_PAIR_FREE_FAILURES = 5
"""Failures of one (email, address) pair before it waits."""
_PAIR_FIRST_WAIT = 30.0
_PAIR_MAX_WAIT = 900.0
_IP_WINDOW = 900.0
_IP_MAX_FAILURES = 1000
"""Failures from one address in `_IP_WINDOW` (any emails) before it is refused: spraying."""
_MAX_TRACKED = 10_000

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(
    time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (PHC string)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> tuple[bool, bool]:
    """(whether `password` matches, whether the hash should be upgraded)."""
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _hasher.check_needs_rehash(password_hash)


def new_password() -> str:
    """A strong random password, shown once."""
    return secrets.token_urlsafe(15)


def new_token() -> str:
    """A new API token (what the admin copies once)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """How a session or API token is stored: its SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def fail(status: int, code: str, message: str) -> NoReturn:
    """Stop the request with a JSON error: {"error": {"code": ..., "message": ...}}."""
    body = json.dumps({"error": {"code": code, "message": message}})
    if status == 413:  # the only error whose constructor wants more than the body
        raise web.HTTPRequestEntityTooLarge(0, text=body, content_type="application/json")
    cls = _ERRORS.get(status, web.HTTPBadRequest)
    raise cls(text=body, content_type="application/json")


_ERRORS: dict[int, type[web.HTTPClientError]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    415: web.HTTPUnsupportedMediaType,
    429: web.HTTPTooManyRequests,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The agent behind a request, and how they proved it."""

    agent: AgentRow
    session: SessionRow | None = None
    """None when the request carries an API token."""

    @property
    def admin(self) -> bool:
        """Admins manage agents and see everything."""
        return self.agent.admin


def allowed_origins(console: Console, request: web.Request) -> set[str]:
    """Origins whose pages may use the session: the server's own, BATON_PUBLIC_URL's and
    BATON_CONSOLE_ORIGINS."""
    origins = {f"{request.scheme}://{request.host}"}
    settings = console.settings
    if settings.public_url:
        from yarl import URL

        public = URL(settings.public_url)
        origins.add(str(public.origin()))
    for origin in settings.console_origins.split(","):
        if origin.strip():
            origins.add(origin.strip().rstrip("/"))
    return origins


def _origin_ok(console: Console, request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        # Browsers send Origin on every state-changing request and on WebSocket handshakes;
        # a request without one is not from a page, and still needs the CSRF token.
        return True
    return origin in allowed_origins(console, request)


async def authenticate(console: Console, request: web.Request) -> Principal:
    """The agent making `request`, or a 401; for cookie sessions, state-changing requests
    must carry the CSRF token and come from an allowed origin (else 403)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.startswith(TOKEN_PREFIX):
            fail(401, "unauthenticated", "use Authorization: Bearer baton_... (an API token)")
        agent = await console.db.token_agent(token_hash(value.strip()), time.time())
        if agent is None or not agent.active:
            fail(401, "unauthenticated", "the API token is unknown or revoked")
        return Principal(agent)
    session = await current_session(console, request)
    if session is None:
        fail(401, "unauthenticated", "log in at /console/login")
    if request.method in _UNSAFE:
        if not _origin_ok(console, request):
            fail(403, "bad_origin", "this request comes from a page Baton does not trust")
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            fail(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    return Principal(session.agent, session)


async def current_session(console: Console, request: web.Request) -> SessionRow | None:
    """The live session of the request's cookie, or None (expired ones are deleted)."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    sid = token_hash(token)
    session = await console.db.session(sid)
    if session is None:
        return None
    now = time.time()
    idle = console.settings.console_idle_minutes * 60
    if now >= session.expires_at or now - session.last_seen_at > idle or not session.agent.active:
        await console.db.delete_session(sid)
        console.hub.session_ended(sid)
        return None
    if now - session.last_seen_at > _TOUCH_EVERY:
        await console.db.touch_session(sid, now)
    return session


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks of BATON_TRUSTED_PROXIES ("10.0.0.1, 10.1.0.0/16")."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False)
        for item in setting.split(",")
        if item.strip()
    )


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request, trusted: str) -> str:
    """The client's address: the connection's, unless the connection is from a trusted proxy;
    then the last address of X-Forwarded-For that is not a trusted proxy."""
    address = request.remote or "?"
    networks = trusted_networks(trusted)
    if not networks or not _trusted(address, networks):
        return address
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:64]
        address = hop
    return address


@dataclass(slots=True)
class _Pair:
    failures: int = 0
    until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Failed logins per (email, client address) pair, with back-off, and per address."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._addresses: dict[str, deque[float]] = {}

    def blocked(self, email: str, address: str, now: float) -> bool:
        """Whether a login for `email` from `address` must wait."""
        pair = self._pairs.get((email, address))
        if pair is not None and pair.until > now:
            return True
        seen = self._addresses.get(address)
        if not seen:
            return False
        while seen and now - seen[0] > _IP_WINDOW:
            seen.popleft()
        return len(seen) >= _IP_MAX_FAILURES

    def failed(self, email: str, address: str, now: float) -> None:
        """Count a failure: the pair waits after a few, doubling each time."""
        if len(self._pairs) > _MAX_TRACKED or len(self._addresses) > _MAX_TRACKED:
            self._forget(now)
        pair = self._pairs.setdefault((email, address), _Pair())
        pair.failures += 1
        pair.last = now
        if pair.failures >= _PAIR_FREE_FAILURES:
            wait = _PAIR_FIRST_WAIT * 2 ** (pair.failures - _PAIR_FREE_FAILURES)
            pair.until = now + min(wait, _PAIR_MAX_WAIT)
        self._addresses.setdefault(address, deque()).append(now)

    def succeeded(self, email: str, address: str) -> None:
        """A right password: the pair starts over."""
        self._pairs.pop((email, address), None)

    def _forget(self, now: float) -> None:
        self._pairs = {
            key: pair
            for key, pair in self._pairs.items()
            if pair.until > now or now - pair.last < _PAIR_MAX_WAIT
        }
        self._addresses = {
            address: seen
            for address, seen in self._addresses.items()
            if seen and now - seen[-1] < _IP_WINDOW
        }
        if len(self._pairs) > _MAX_TRACKED:
            self._pairs.clear()
        if len(self._addresses) > _MAX_TRACKED:
            self._addresses.clear()


async def log_in(
    console: Console, request: web.Request, email: str, password: str
) -> tuple[AgentRow, str, str]:
    """Check the password; on success create a fresh session (deleting the one this browser
    had). Returns (agent, session token for the cookie, CSRF token)."""
    now = time.time()
    address = client_address(request, console.settings.trusted_proxies)
    key = email.strip().lower()[:320]
    throttle = console.throttle
    if throttle.blocked(key, address, now):
        fail(429, "too_many_attempts", "too many failed logins; try again in a few minutes")
    agent = await console.db.agent_by_email(key)
    if agent is None:
        verify_password(_DUMMY_HASH, password)  # the same work either way
        ok, rehash = False, False
    else:
        ok, rehash = verify_password(agent.password_hash, password)
    if agent is None or not ok or not agent.active:
        # Unknown, wrong or deactivated: one answer, and one count.
        throttle.failed(key, address, now)
        fail(401, "bad_login", "wrong email or password")
    throttle.succeeded(key, address)
    await console.db.login_succeeded(
        agent.id, password_hash=hash_password(password) if rehash else None
    )
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    old = request.cookies.get(COOKIE)
    await console.db.create_session(
        token_hash(token),
        agent.id,
        csrf,
        expires_at=now + console.settings.console_session_hours * 3600,
        user_agent=request.headers.get("User-Agent"),
        replaces=token_hash(old) if old else None,
    )
    if old:
        console.hub.session_ended(token_hash(old))
    return agent, token, csrf


async def log_out(console: Console, request: web.Request) -> None:
    """End the request's session server-side (its live connections close too)."""
    token = request.cookies.get(COOKIE)
    if token:
        sid = token_hash(token)
        await console.db.delete_session(sid)
        console.hub.session_ended(sid)


def set_cookie(response: web.StreamResponse, token: str, max_age: float) -> None:
    """The session cookie: Secure, HttpOnly, SameSite=Strict, host-only (`__Host-`)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(max_age),
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: web.StreamResponse) -> None:
    """Remove the session cookie from the browser."""
    response.del_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
