"""The API's error middleware: an unexpected exception is a 500 with no internals, and its log line names
the route's template, never the path (a provider callback's path holds its secret token)."""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from warnengine.api.errors import error_middleware

TOKEN = "s3cret-callback-token-0123456789"


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("unexpected")


async def test_an_internal_error_logs_the_route_not_the_secret_path() -> None:
    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/webhooks/tencent-sms/{token}/status", _boom)
    async with TestClient(TestServer(app)) as client:
        with structlog.testing.capture_logs() as logs:
            r = await client.post(f"/webhooks/tencent-sms/{TOKEN}/status", json=[])
        assert r.status == 500
        assert (await r.json())["error"]["code"] == "internal_error"
    [line] = [e for e in logs if e["event"] == "api_internal_error"]
    assert line["path"] == "/webhooks/tencent-sms/{token}/status"
    assert TOKEN not in repr(logs)
