"""Who may do what: tokens, roles, console sessions with CSRF, login limits, body limits, JSON errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from tests.api.conftest import MAX_BODY, PASSWORD, Api

AREA = [{"codes": ["530102001000"]}]


def draft(**over: object) -> dict[str, object]:
    return {
        "hazard": "flood",
        "severity": "orange",
        "event": "山洪",
        "headline": "山洪预警",
        "areas": AREA,
        **over,
    }


async def test_no_token_is_401_and_a_bad_token_too(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/warnings")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = await api.call("GET", "/api/v1/warnings", headers={"Authorization": "Bearer nope"})
    assert status == 401 and body["error"]["code"] == "invalid_token"
    status, body = await api.call("GET", "/api/v1/warnings", headers={"Authorization": "Basic abc"})
    assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_wrong_role_is_403(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/warnings", "grid", json=draft())
    assert status == 403 and body["error"]["code"] == "forbidden" and "dispatcher" in body["error"]["message"]
    assert (await api.call("GET", "/api/v1/users", "disp"))[0] == 403
    assert (await api.call("GET", "/api/v1/warnings", "app"))[0] == 403  # the app only posts acks
    assert (await api.call("POST", "/api/v1/acks", "disp", json={"delivery_id": "d1"}))[0] == 403
    assert (await api.call("GET", "/api/v1/users", "admin"))[0] == 200


async def test_invalid_payloads_are_400_naming_the_field(api: Api) -> None:
    cases = [
        (draft(severity="purple"), "severity"),
        ({k: v for k, v in draft().items() if k != "hazard"}, "hazard"),
        (draft(areas=[{"codes": ["12345"]}]), "areas.0.codes.0"),
        (draft(areas=[{"polygons": [[[114.0, 35.0], [114.1, 35.0]]]}]), "areas.0.polygons.0"),
        (draft(areas=[{"polygons": [[[114.0, 35.0], [114.1, 35.0], [114.0, 35.0]]]}]), "areas.0.polygons"),
        (
            draft(areas=[{"polygons": [[[514.0, 35.0], [114.1, 35.0], [114.1, 35.1]]]}]),
            "areas.0.polygons.0.0.0",
        ),
        (draft(areas=[{}]), "areas"),
        (draft(areas=[]), "areas"),
        (draft(expires_min=0), "expires_min"),
        (draft(headline="x\x00y"), "headline"),
        (draft(surprise=1), "surprise"),
        (draft(template="no such template"), "template"),
        (draft(cap="<alert>not cap</alert>"), "cap"),
    ]
    for payload, field in cases:
        status, body = await api.call("POST", "/api/v1/warnings", "disp", json=payload)
        assert status == 400, (payload, body)
        assert body["error"]["field"] == field, (payload, body)
        assert body["error"]["code"] in ("invalid_field", "unknown_template", "invalid_cap")
    for raw in (b"", b"{", b"[1]", b"\xff\xfe"):
        status, body = await api.call("POST", "/api/v1/warnings", "disp", data=raw)
        assert (status, body["error"]["code"]) == (400, "invalid_json")
    status, body = await api.call("GET", "/api/v1/warnings?limit=0", "disp")
    assert (status, body["error"]["field"]) == (400, "limit")


async def test_oversized_bodies_are_413_unread(api: Api) -> None:
    big = json.dumps(draft(description="x" * MAX_BODY)).encode()
    status, body = await api.call("POST", "/api/v1/warnings", "disp", data=big)
    assert (status, body["error"]["code"]) == (413, "body_too_large")

    async def chunks() -> AsyncIterator[
        bytes
    ]:  # no Content-Length: aiohttp's own limit answers, still as our JSON error
        for _ in range(3):
            yield b" " * MAX_BODY

    status, body = await api.call("POST", "/api/v1/warnings", "disp", data=chunks())
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert not await api.store.list_drafts()


async def test_unknown_routes_and_methods_are_json_errors(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/nothing", "disp")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await api.call("DELETE", "/api/v1/warnings", "disp")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    status, body = await api.call("GET", "/api/v1/warnings/not-an-id", "disp")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await api.call("GET", "/api/v1/warnings/w-0000000000000000", "disp")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def login(api: Api, user: str, password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
    async with api.client.post("/api/v1/login", json={"username": user, "password": password}) as r:
        return r.status, await r.json()


async def test_console_session_needs_the_csrf_header_to_change_anything(api: Api) -> None:
    status, me = await login(api, "disp")
    assert status == 200 and me["role"] == "dispatcher" and me["csrf_token"]
    assert "we_session" in {c.key for c in api.client.session.cookie_jar}
    # Reads need only the cookie (EventSource cannot send headers).
    async with api.client.get("/api/v1/me") as r:
        assert r.status == 200 and (await r.json())["csrf_token"] == me["csrf_token"]
    async with api.client.post("/api/v1/warnings", json=draft()) as r:
        assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
    async with api.client.post("/api/v1/warnings", json=draft(), headers={"X-CSRF-Token": "forged"}) as r:
        assert r.status == 403
    async with api.client.post(
        "/api/v1/warnings", json=draft(), headers={"X-CSRF-Token": me["csrf_token"]}
    ) as r:
        assert r.status == 201, await r.text()
    async with api.client.post("/api/v1/logout", headers={"X-CSRF-Token": me["csrf_token"]}) as r:
        assert r.status == 204
    async with api.client.get("/api/v1/me") as r:
        assert r.status == 401


async def test_login_failures_are_rate_limited_and_audited(api: Api) -> None:
    for _ in range(5):
        status, body = await login(api, "appr", "wrong password")
        assert (status, body["error"]["code"]) == (401, "login_failed")
    status, body = await login(api, "appr")  # even the right password, while the limit holds
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    # One user's bad passwords lock out that user only, not colleagues behind the same address.
    assert (await login(api, "disp"))[0] == 200
    actions = [e["action"] for e in await api.store.audit_entries(subject="appr")]
    assert actions.count("login.failed") == 5 and "login.rate_limited" in actions
    detail = json.loads((await api.store.audit_entries(subject="appr"))[0]["detail"])
    assert detail["remote"] == "127.0.0.1"


async def test_admin_manages_users_and_tokens(api: Api) -> None:
    new = {"username": "wang.wei", "password": "long enough pw", "role": "dispatcher", "display_name": "王伟"}
    status, body = await api.call("POST", "/api/v1/users", "admin", json=new)
    assert status == 201 and body["role"] == "dispatcher"
    assert (await api.call("POST", "/api/v1/users", "admin", json=new))[0] == 409
    short = {**new, "username": "x", "password": "short"}
    assert (await api.call("POST", "/api/v1/users", "admin", json=short))[1]["error"]["field"] == "password"
    status, tok = await api.call(
        "POST", "/api/v1/tokens", "admin", json={"label": "ci", "username": "wang.wei"}
    )
    assert status == 201 and tok["token"].startswith("we_")
    status, me = await api.call("GET", "/api/v1/me", headers={"Authorization": f"Bearer {tok['token']}"})
    assert (status, me["username"]) == (200, "wang.wei")
    # A non-admin may mint tokens only for themselves.
    assert (await api.call("POST", "/api/v1/tokens", "disp", json={"label": "x", "username": "admin"}))[
        0
    ] == 403
    entry = (await api.store.audit_entries(subject="wang.wei"))[0]
    assert (entry["actor"], entry["action"]) == ("admin", "token.add")
    assert "127.0.0.1" in entry["detail"]


async def test_security_headers_and_no_html_errors(api: Api) -> None:
    async with api.client.get("/console/") as r:
        assert r.status == 200
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        html = await r.text()
    assert "http://" not in html and "https://" not in html  # no CDN assets
