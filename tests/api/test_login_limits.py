"""Login limits that one user cannot turn against the others, X-Forwarded-For only from trusted proxies,
and JSON bodies nested too deeply refused as 400 (never a RecursionError's 500)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.api.conftest import PASSWORD, Api, RecordingPublisher, api_settings, seed
from warnengine.api.app import create_app
from warnengine.db.store import Store
from warnengine.directory import County


@pytest.fixture
def make_api(
    sqlite_store: Store, small_county: County, password_hash: str, tmp_path: Path
) -> Callable[..., Any]:
    """An API with settings changed (`api_settings` keywords); use as an async context manager."""

    class _Make:
        def __init__(self, **over: Any) -> None:
            self.over = over

        async def __aenter__(self) -> Api:
            tokens = await seed(sqlite_store, small_county, password_hash)
            app = create_app(sqlite_store, api_settings(tmp_path, **self.over), RecordingPublisher())
            self.client: TestClient[Any, Any] = TestClient(TestServer(app))
            await self.client.start_server()
            return Api(self.client, sqlite_store, RecordingPublisher(), tokens)

        async def __aexit__(self, *_: object) -> None:
            await self.client.close()

    return _Make


async def login(api: Api, user: str, password: str = PASSWORD, via: str | None = None) -> tuple[int, str]:
    headers = {"X-Forwarded-For": via} if via else {}
    async with api.client.post(
        "/api/v1/login", json={"username": user, "password": password}, headers=headers
    ) as r:
        body = await r.json()
        return r.status, body["error"]["code"] if r.status != 200 else "ok"


async def test_one_user_failing_locks_out_only_that_user(api: Api) -> None:
    for _ in range(5):
        assert await login(api, "appr", "wrong password") == (401, "login_failed")
    assert await login(api, "appr") == (429, "rate_limited")
    assert await login(api, "appr2", "wrong password") == (401, "login_failed")  # still judged on its own
    assert await login(api, "disp") == (200, "ok")
    assert await login(api, "disp2") == (200, "ok")


async def test_a_spray_over_many_users_from_one_address_is_limited(make_api: Callable[..., Any]) -> None:
    async with make_api(api_login_max_failures_per_address=8) as api:
        for i in range(8):  # one guess per name: no user limit is reached
            assert await login(api, f"user{i}", "Winter2024!") == (401, "login_failed")
        assert await login(api, "disp") == (429, "rate_limited")  # the address is, for everyone behind it
        # X-Forwarded-For from an untrusted peer changes nothing: the client could write anything there.
        assert await login(api, "disp", via="203.0.113.9") == (429, "rate_limited")
        entry = (await api.store.audit_entries(subject="disp"))[0]
        assert entry["action"] == "login.rate_limited" and "203.0.113.9" not in (entry["detail"] or "")


async def test_forwarded_address_counts_only_behind_a_trusted_proxy(make_api: Callable[..., Any]) -> None:
    async with make_api(api_login_max_failures_per_address=8, api_trusted_proxies=["127.0.0.0/8"]) as api:
        for i in range(8):  # a client claiming a fake first hop: the proxy's appended last hop counts
            assert await login(api, f"user{i}", "x", via=f"198.51.100.{i}, 203.0.113.1") == (
                401,
                "login_failed",
            )
        assert await login(api, "disp", via="203.0.113.1") == (429, "rate_limited")
        assert await login(api, "disp", via="203.0.113.2") == (200, "ok")  # another client of the proxy
        assert await login(api, "disp2") == (200, "ok")  # the proxy's own address is its own
        detail = (await api.store.audit_entries(subject="disp"))[0]["detail"] or ""
        assert "203.0.113.2" in detail


def test_a_mistyped_trusted_proxy_fails_at_start(sqlite_store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        create_app(
            sqlite_store, api_settings(tmp_path, api_trusted_proxies=["10.0.0.300"]), RecordingPublisher()
        )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"hazard": ' + b"[" * 40 + b"]" * 40 + b"}",  # well-formed, 41 deep
        b"[" * 30_000 + b"]" * 30_000,  # deep enough for RecursionError, under the body limit
        b"[" * 5000,  # and unclosed
    ],
)
async def test_deeply_nested_json_is_400_not_500(api: Api, raw: bytes) -> None:
    status, body = await api.call("POST", "/api/v1/warnings", "disp", data=raw)
    assert (status, body["error"]["code"]) == (400, "invalid_json")
    assert "32" in body["error"]["message"]


async def test_deep_json_on_public_login_is_400(api: Api) -> None:
    async with api.client.post("/api/v1/login", data=b'{"username": ' + b"[" * 3000 + b"}") as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"


async def test_ordinary_nesting_still_parses(api: Api) -> None:
    polygon = [[[114.0, 35.0], [114.1, 35.0], [114.1, 35.1], [114.0, 35.0]]]  # depth 5 inside the body
    status, _ = await api.call(
        "POST",
        "/api/v1/warnings",
        "disp",
        json={
            "hazard": "flood",
            "severity": "orange",
            "event": "山洪",
            "headline": "山洪预警",
            "areas": [{"polygons": polygon}],
        },
    )
    assert status == 201
