"""Who is calling: users and roles, argon2 passwords, API tokens, console sessions, CSRF, login limits.

Two ways in, one identity:
- `Authorization: Bearer <token>` — scripts, integrations and the residents' app. Tokens are random, shown
  once, stored only as SHA-256 (a stolen database yields no usable token). No CSRF: a browser never adds
  this header by itself.
- The console's session cookie (HttpOnly, SameSite=Strict) — and, because a browser does send cookies by
  itself, every state-changing request must also carry the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from warnengine.api.context import ctx
from warnengine.api.errors import ApiError

SESSION_COOKIE = "we_session"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "we_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiRole(StrEnum):
    DISPATCHER = "dispatcher"  # drafts, submits, releases, updates, cancels
    APPROVER = "approver"  # approves or rejects someone else's warning (审核/签发)
    ADMIN = "admin"  # everything, and users and tokens
    GRID_STAFF = "grid_staff"  # reads status, directory and devices (网格员 following a warning)
    APP = "app"  # the residents' app backend: posts acks


@dataclass(frozen=True)
class User:
    username: str
    role: ApiRole
    display_name: str
    via: str  # token | session
    csrf_token: str | None = None
    # A console session whose password is one-time: only changing it, who-am-I and logout are allowed
    # (routing.py). Tokens are never held back: an admin minted them on purpose, and a held-back session
    # cannot mint one.
    must_change_password: bool = False


_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
# Verified for unknown users too, so a wrong name takes as long as a wrong password (no user probing).
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow and memory-hard: off the event loop, or it stalls every SSE stream.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def remote_of(request: web.Request) -> str:
    """Where the call came from (audit log, login limits): the peer address — or, only when the peer is
    one of `api_trusted_proxies`, the last hop of X-Forwarded-For (the one that proxy appended; earlier
    hops are whatever the client chose to send). Without trusted proxies X-Forwarded-For is ignored."""
    peer = request.remote or "unknown"
    trusted = ctx(request).settings.api_trusted_proxies
    if not trusted or not _in_networks(peer, tuple(trusted)):
        return peer
    hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
    last = hops[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:  # absent or not an address: the proxy's own
        return peer


@functools.lru_cache(maxsize=64)
def trusted_networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in trusted)


def _in_networks(peer: str, trusted: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(addr in net for net in trusted_networks(trusted))


async def authenticate(request: web.Request) -> User | None:
    """The caller, or None; a present but bad credential is an error, not anonymity."""
    store = ctx(request).store
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated", "Authorization must be 'Bearer <token>'")
        row = await store.token_user(digest(token.strip()))
        if row is None:
            raise ApiError(401, "invalid_token", "unknown, expired or revoked token")
        return User(row["username"], ApiRole(row["role"]), row["display_name"], "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        row = await store.session_user(digest(cookie))
        if row is None:
            raise ApiError(401, "session_expired", "session expired; log in again")
        user = User(
            row["username"],
            ApiRole(row["role"]),
            row["display_name"],
            "session",
            row["csrf_token"],
            bool(row["must_change_password"]),
        )
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), (user.csrf_token or "").encode()):
                raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
        return user
    return None


async def require(request: web.Request, roles: frozenset[ApiRole]) -> User:
    user = await authenticate(request)
    if user is None:
        raise ApiError(
            401, "unauthenticated", "log in or send a bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    if user.role is not ApiRole.ADMIN and user.role not in roles:
        raise ApiError(403, "forbidden", f"role {user.role.value} may not do this (needs {_names(roles)})")
    return user


def _names(roles: frozenset[ApiRole]) -> str:
    return " or ".join(sorted(r.value for r in roles))
