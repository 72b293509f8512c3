"""Log in and out, who am I, users and API tokens (the operations; the mechanisms are in auth.py)."""

from __future__ import annotations

import re
import secrets

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from warnengine.api import audit
from warnengine.api.auth import (
    SESSION_COOKIE,
    ApiRole,
    digest,
    hash_password,
    new_token,
    remote_of,
    verify_password,
)
from warnengine.api.context import ctx
from warnengine.api.drafts import Text
from warnengine.api.errors import ApiError, bad_request, conflict, not_found
from warnengine.api.routing import EVERYONE, Op, body, json_out, user
from warnengine.db.store import Store
from warnengine.obs import metrics

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 10


class LoginIn(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: ApiRole
    display_name: str
    csrf_token: str | None = None  # console sessions: send it back as X-CSRF-Token on every change
    # A one-time password: until POST /api/v1/me/password, a console session may do nothing else.
    must_change_password: bool = False


class PasswordChangeIn(BaseModel):
    old_password: Text = Field(min_length=1, max_length=1024)
    new_password: Text = Field(min_length=MIN_PASSWORD, max_length=1024)


class UserIn(BaseModel):
    username: str = Field(pattern=USERNAME.pattern)
    password: Text = Field(min_length=MIN_PASSWORD, max_length=1024)
    role: ApiRole
    display_name: Text = Field(default="", max_length=100)
    # The admin chose the password, so by default it is one-time: the user changes it at the first login.
    must_change_password: bool = True

    @field_validator("username")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_username(v)


class UserOut(BaseModel):
    username: str
    role: ApiRole
    display_name: str
    active: bool
    must_change_password: bool = False


class UserList(BaseModel):
    users: list[UserOut]


class TokenIn(BaseModel):
    label: Text = Field(min_length=1, max_length=100)
    username: Text | None = Field(default=None, max_length=64)  # admin only: a token for another user
    expires_in_s: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class TokenOut(BaseModel):
    token: str  # shown once; only its hash is stored
    username: str
    label: str
    expires_at: float | None


def check_username(v: str) -> str:
    if not USERNAME.match(v):
        raise ValueError("1–64 characters: letters, digits, '_', '.', '@', '-'")
    return v


def password_problem(username: str, password: str, old: str | None = None) -> str | None:
    """What is wrong with a new password (Chinese / English), or None: the whole policy, kept minimal."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符 / password shorter than {MIN_PASSWORD} characters"
    if password.strip().casefold() == username.casefold():
        return "密码不能与用户名相同 / password must not be the user name"
    if old is not None and password == old:
        return "新密码不能与旧密码相同 / the new password must differ from the old one"
    return None


async def create_user(
    store: Store, username: str, password: str, role: ApiRole, display_name: str, *, must_change: bool
) -> bool:
    """Shared by the API, `warnengine user add`, init and the demo users. `must_change`: the password is
    one-time, and a console session can do nothing but change it."""
    check_username(username)
    problem = password_problem(username, password)
    if problem:
        raise ValueError(problem)
    return await store.add_user(
        username, await hash_password(password), role.value, display_name or username, must_change=must_change
    )


async def set_password(
    store: Store, username: str, password: str, *, must_change: bool, keep_session: str | None = None
) -> int | None:
    """A user's new password (`warnengine user passwd`, POST /api/v1/me/password); ends the user's other
    sessions. None when there is no such user, else how many sessions ended."""
    problem = password_problem(username, password)
    if problem:
        raise ValueError(problem)
    if await store.get_user(username) is None:
        return None
    hashed = await hash_password(password)
    return await store.set_password(username, hashed, must_change=must_change, keep_session=keep_session)


async def _limit(request: web.Request, username: str, address: str, action: str) -> None:
    """429 while the login limiter holds this user or address (logins and password changes alike)."""
    wait = ctx(request).limiter.retry_after(username, address)
    if wait is not None:
        metrics.API_LOGINS.labels("rate_limited").inc()
        await audit.record(request, action, username, actor=username)
        raise ApiError(
            429,
            "rate_limited",
            f"too many failed logins; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )


async def login(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, LoginIn)
    address = remote_of(request)
    await _limit(request, b.username, address, "login.rate_limited")
    row = await c.store.get_user(b.username)
    ok = await verify_password(row["password_hash"] if row else None, b.password)
    if not ok or row is None or not row["active"]:
        c.limiter.failed(b.username, address)
        metrics.API_LOGINS.labels("failed").inc()
        await audit.record(request, "login.failed", b.username, actor=b.username)
        raise ApiError(401, "login_failed", "wrong user name or password")
    c.limiter.succeeded(b.username)
    session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await c.store.add_session(digest(session), b.username, csrf, c.settings.api_session_ttl_s, address)
    metrics.API_LOGINS.labels("ok").inc()
    await audit.record(request, "login", b.username, actor=b.username)
    resp = json_out(
        Me(
            username=b.username,
            role=row["role"],
            display_name=row["display_name"],
            csrf_token=csrf,
            must_change_password=row["must_change_password"],
        )
    )
    resp.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=int(c.settings.api_session_ttl_s),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return resp


async def logout(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await ctx(request).store.end_session(digest(cookie))
    await audit.record(request, "logout", user(request).username)
    resp = web.Response(status=204)
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    u = user(request)
    return json_out(
        Me(
            username=u.username,
            role=u.role,
            display_name=u.display_name,
            csrf_token=u.csrf_token,
            must_change_password=u.must_change_password,
        )
    )


async def change_password(request: web.Request) -> web.Response:
    """The caller's own password: the old one proves it is them (a wrong one counts as a failed login);
    the user's other sessions end, this one stays."""
    c = ctx(request)
    b = body(request, PasswordChangeIn)
    u = user(request)
    address = remote_of(request)
    await _limit(request, u.username, address, "user.password.rate_limited")
    row = await c.store.get_user(u.username)
    if row is None or not await verify_password(row["password_hash"], b.old_password):
        c.limiter.failed(u.username, address)
        await audit.record(request, "user.password.failed", u.username)
        raise ApiError(403, "wrong_password", "旧密码不对 / the old password is wrong", "old_password")
    problem = password_problem(u.username, b.new_password, b.old_password)
    if problem:
        raise bad_request("weak_password", problem, "new_password")
    c.limiter.succeeded(u.username)
    cookie = request.cookies.get(SESSION_COOKIE) if u.via == "session" else None
    keep = digest(cookie) if cookie else None
    ended = await set_password(c.store, u.username, b.new_password, must_change=False, keep_session=keep)
    await audit.record(request, "user.password.change", u.username, sessions_ended=ended or 0)
    return json_out(
        Me(username=u.username, role=u.role, display_name=u.display_name, csrf_token=u.csrf_token)
    )


async def add_user(request: web.Request) -> web.Response:
    b = body(request, UserIn)
    try:
        added = await create_user(
            ctx(request).store,
            b.username,
            b.password,
            b.role,
            b.display_name,
            must_change=b.must_change_password,
        )
    except ValueError as e:  # the policy beyond the schema's length (the user name as password)
        raise bad_request("weak_password", str(e), "password") from e
    if not added:
        raise conflict("user_exists", f"user {b.username} exists")
    await audit.record(request, "user.add", b.username, role=b.role.value, one_time=b.must_change_password)
    out = UserOut(
        username=b.username,
        role=b.role,
        display_name=b.display_name or b.username,
        active=True,
        must_change_password=b.must_change_password,
    )
    return json_out(out, 201)


async def list_users(request: web.Request) -> web.Response:
    rows = await ctx(request).store.list_users()
    return json_out(UserList(users=[UserOut(**r) for r in rows]))


async def add_token(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, TokenIn)
    caller = user(request)
    owner = b.username or caller.username
    if owner != caller.username and caller.role is not ApiRole.ADMIN:
        raise ApiError(403, "forbidden", "only an admin may create a token for another user")
    if await c.store.get_user(owner) is None:
        raise not_found(f"user {owner}")
    token = new_token()
    expires = c.store.clock.now() + b.expires_in_s if b.expires_in_s else None
    await c.store.add_token(digest(token), owner, b.label, expires)
    await audit.record(request, "token.add", owner, label=b.label, expires_at=expires)
    return json_out(TokenOut(token=token, username=owner, label=b.label, expires_at=expires), 201)


OPS = [
    Op(
        "POST",
        "/api/v1/login",
        login,
        "Log in to the console (sets the session cookie)",
        "session",
        None,
        body=LoginIn,
        response=Me,
        errors=(401, 429),
    ),
    Op(
        "POST",
        "/api/v1/logout",
        logout,
        "End the console session",
        "session",
        EVERYONE,
        status=204,
        response=None,
        before_password_change=True,
    ),
    Op(
        "GET",
        "/api/v1/me",
        me,
        "Who am I (and the session's CSRF token)",
        "session",
        EVERYONE,
        response=Me,
        before_password_change=True,
    ),
    Op(
        "POST",
        "/api/v1/me/password",
        change_password,
        "Change my own password (required first when it is one-time)",
        "session",
        EVERYONE,
        body=PasswordChangeIn,
        response=Me,
        errors=(429,),
        before_password_change=True,
        description=(
            "Checks the old password (a wrong one is 403 `wrong_password` and counts as a failed login), "
            f"then the policy (at least {MIN_PASSWORD} characters, not the user name, not the old password: "
            "400 `weak_password`), clears the one-time flag and ends the user's other sessions."
        ),
    ),
    Op("GET", "/api/v1/users", list_users, "Users", "users", frozenset({ApiRole.ADMIN}), response=UserList),
    Op(
        "POST",
        "/api/v1/users",
        add_user,
        "Add a user",
        "users",
        frozenset({ApiRole.ADMIN}),
        body=UserIn,
        response=UserOut,
        status=201,
        errors=(409,),
        description="`must_change_password` (default true): the user must change it at the first login.",
    ),
    Op(
        "POST",
        "/api/v1/tokens",
        add_token,
        "Create an API token (shown once)",
        "users",
        EVERYONE,
        body=TokenIn,
        response=TokenOut,
        status=201,
        errors=(404,),
    ),
]
