"""One-time passwords: a console session whose password someone else chose may only change it (and ask who
it is, and log out); POST /api/v1/me/password checks the old one, applies the policy, clears the flag, ends
the user's other sessions and is audited without the passwords."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.api.conftest import Api
from warnengine.api.accounts import create_user
from warnengine.api.auth import ApiRole

ONE_TIME = "printed once 4711"
NEW = "my own secret 2026"
CHANGE = "/api/v1/me/password"


@dataclass
class Console:
    """A browser's session: its own cookie jar, and the CSRF token it got at login."""

    http: aiohttp.ClientSession
    base: str
    csrf: str = ""

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if method != "GET" and self.csrf else {}
        async with self.http.request(method, self.base + path, headers=headers, **kw) as r:
            return r.status, await r.json() if r.content_type == "application/json" else None

    async def login(self, user: str, password: str) -> tuple[int, Any]:
        status, me = await self.call("POST", "/api/v1/login", json={"username": user, "password": password})
        if status == 200:
            self.csrf = me["csrf_token"]
        return status, me

    async def change(self, old: str, new: str) -> tuple[int, Any]:
        return await self.call("POST", CHANGE, json={"old_password": old, "new_password": new})


@contextlib.asynccontextmanager
async def console(api: Api) -> AsyncIterator[Console]:
    base = str(api.client.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Console(http, base)


async def newcomer(api: Api, name: str = "newbie") -> None:
    assert await create_user(api.store, name, ONE_TIME, ApiRole.DISPATCHER, "新人", must_change=True)


async def test_only_change_whoami_and_logout_until_the_password_is_changed(api_both: Api) -> None:
    api = api_both
    await newcomer(api)
    async with console(api) as c:
        status, me = await c.login("newbie", ONE_TIME)
        assert status == 200 and me["must_change_password"] is True
        for method, path, payload in (
            ("GET", "/api/v1/warnings", None),
            ("GET", "/api/v1/directory/grid", None),
            ("POST", "/api/v1/tokens", {"label": "sneak past"}),  # no token to get around the change
            ("POST", "/api/v1/preview", {"areas": [{"codes": ["530102001000"]}]}),
        ):
            status, body = await c.call(method, path, json=payload)
            assert status == 403, (path, body)
            assert body["error"]["code"] == "password_change_required"
            assert "修改" in body["error"]["message"] and "password" in body["error"]["message"]
        status, me = await c.call("GET", "/api/v1/me")
        assert status == 200 and me["must_change_password"] is True and me["username"] == "newbie"
        assert (await c.call("POST", "/api/v1/logout"))[0] == 204
        assert (await c.call("GET", "/api/v1/me"))[0] == 401
    # A token the admin minted for the user is not held back: only the console session's password is one-time.
    mint = {"label": "ci", "username": "newbie"}
    status, tok = await api.call("POST", "/api/v1/tokens", "admin", json=mint)
    assert status == 201
    bearer = {"Authorization": f"Bearer {tok['token']}"}
    assert (await api.call("GET", "/api/v1/warnings", headers=bearer))[0] == 200


async def test_changing_clears_the_flag_ends_other_sessions_and_is_audited(api_both: Api) -> None:
    api = api_both
    await newcomer(api)
    async with console(api) as c, console(api) as other:
        assert (await other.login("newbie", ONE_TIME))[0] == 200
        assert (await c.login("newbie", ONE_TIME))[0] == 200
        status, me = await c.change(ONE_TIME, NEW)
        assert status == 200, me
        assert me["must_change_password"] is False and me["csrf_token"] == c.csrf
        assert (await c.call("GET", "/api/v1/warnings"))[0] == 200  # this session goes on
        assert (await c.call("GET", "/api/v1/me"))[1]["must_change_password"] is False
        status, body = await other.call("GET", "/api/v1/me")  # the other one has ended
        assert (status, body["error"]["code"]) == (401, "session_expired")
    async with console(api) as c:
        assert (await c.login("newbie", ONE_TIME))[0] == 401
        status, me = await c.login("newbie", NEW)
        assert status == 200 and me["must_change_password"] is False
    row = await api.store.get_user("newbie")
    assert row is not None and row["must_change_password"] is False
    entries = await api.store.audit_entries(subject="newbie")
    [changed] = [e for e in entries if e["action"] == "user.password.change"]
    assert changed["actor"] == "newbie"
    detail = json.loads(changed["detail"])
    assert detail["sessions_ended"] == 1 and detail["via"] == "session"
    assert not [e for e in entries if ONE_TIME in (e["detail"] or "") or NEW in (e["detail"] or "")]


async def test_a_wrong_old_password_is_403_and_counts_as_a_failed_login(api: Api) -> None:
    await newcomer(api)
    async with console(api) as c:
        assert (await c.login("newbie", ONE_TIME))[0] == 200
        for _ in range(5):
            status, body = await c.change("not the password", NEW)
            assert (status, body["error"]["code"], body["error"]["field"]) == (
                403,
                "wrong_password",
                "old_password",
            )
        status, body = await c.change(ONE_TIME, NEW)  # guessing through a stolen session is limited too
        assert (status, body["error"]["code"]) == (429, "rate_limited")
    row = await api.store.get_user("newbie")
    assert row is not None and row["must_change_password"] is True
    actions = [e["action"] for e in await api.store.audit_entries(subject="newbie")]
    assert actions.count("user.password.failed") == 5 and "user.password.rate_limited" in actions


async def test_a_weak_new_password_is_400_with_the_reason(api: Api) -> None:
    await newcomer(api, "newcomer.li")
    async with console(api) as c:
        assert (await c.login("newcomer.li", ONE_TIME))[0] == 200
        status, body = await c.change(ONE_TIME, "short")
        error = body["error"]
        assert (status, error["code"], error["field"]) == (400, "invalid_field", "new_password")
        assert "10" in body["error"]["message"]
        for weak, reason in (("NEWCOMER.LI", "user name"), (ONE_TIME, "old")):
            status, body = await c.change(ONE_TIME, weak)
            assert (status, body["error"]["code"], body["error"]["field"]) == (
                400,
                "weak_password",
                "new_password",
            ), body
            assert reason in body["error"]["message"]
    row = await api.store.get_user("newcomer.li")
    assert row is not None and row["must_change_password"] is True


async def test_a_user_the_admin_adds_has_a_one_time_password_unless_said_otherwise(api: Api) -> None:
    new = {"username": "zhao.lei", "password": "chosen by the admin", "role": "approver"}
    status, body = await api.call("POST", "/api/v1/users", "admin", json=new)
    assert status == 201 and body["must_change_password"] is True
    keep = {**new, "username": "svc.bot", "must_change_password": False}
    status, body = await api.call("POST", "/api/v1/users", "admin", json=keep)
    assert status == 201 and body["must_change_password"] is False
    status, body = await api.call("GET", "/api/v1/users", "admin")
    flags = {u["username"]: u["must_change_password"] for u in body["users"]}
    assert flags["zhao.lei"] is True and flags["svc.bot"] is False and flags["disp"] is False
    as_name = {**new, "username": "same.as.name", "password": "same.as.name"}
    status, body = await api.call("POST", "/api/v1/users", "admin", json=as_name)
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "weak_password", "password")
    async with console(api) as c:
        status, me = await c.login("zhao.lei", "chosen by the admin")
        assert status == 200 and me["must_change_password"] is True
        assert (await c.call("GET", "/api/v1/warnings"))[1]["error"]["code"] == "password_change_required"


async def test_a_user_without_the_flag_may_change_the_password_too(api: Api) -> None:
    async with console(api) as c:
        status, me = await c.login("disp", "correct horse battery")
        assert status == 200 and me["must_change_password"] is False
        assert (await c.change("correct horse battery", NEW))[0] == 200
    # By bearer token (a script): every console session of the user ends.
    status, me = await api.call(
        "POST", CHANGE, "disp", json={"old_password": NEW, "new_password": NEW + " again"}
    )
    assert status == 200 and me["csrf_token"] is None
    latest = (await api.store.audit_entries(subject="disp", limit=1))[0]
    assert latest["action"] == "user.password.change"
    assert json.loads(latest["detail"])["sessions_ended"] == 1  # the console session above
