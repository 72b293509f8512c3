"""A local JPush Push API v3: `POST /v3/push` with HTTP Basic auth (appKey:masterSecret).

Validates `platform`, `audience.registration_id` (a list of at most 1000), that a `notification` or
`message` is present, and `options.time_to_live`: 0 up to 3 days for an ordinary account, 10 days for a VIP
one (`vip=True`) — docs.jiguang.cn/jpush/server/push/rest_api_v3_push, "options". Notification plus message
over 4000 bytes is 400/1005 (the page states the limit, not how it is counted: the fake counts the compact
UTF-8 JSON of both objects, the strictest plausible reading). Known ids are delivered; unknown ids are
dropped silently as JPush does, and a push with no known id at all is 400 error 1011. Errors are JPush's
`{"error": {"code", "message"}}`: 401/1004 bad credentials, 400/1003 bad parameters, 429/2002 in storms
(with X-Rate-Limit-Limit/Remaining/Reset), `error_status`/1000 for injected server errors.

`delivered[registration_id]` counts notifications accepted per device.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections import Counter
from typing import Any

from aiohttp import web

from tests.fakes.faults import FakeServer, Faults

APP_KEY, MASTER_SECRET = "0123456789abcdef01234567", "fedcba9876543210fedcba98"


def jpush_error(status: int, code: int, message: str, **headers: str) -> web.Response:
    body = {"error": {"code": code, "message": message}, "msg_id": str(secrets.randbelow(10**18))}
    return web.json_response(body, status=status, headers=headers or None)


MAX_CONTENT = 4000
MAX_TTL_S, VIP_MAX_TTL_S = 259200, 864000


def content_bytes(body: dict[str, Any]) -> int:
    parts = {k: body[k] for k in ("notification", "message") if k in body}
    return len(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode())


def _invalid(body: dict[str, Any], ids: Any, max_ttl_s: int) -> web.Response | None:
    """JPush's 1003 for a push whose platform, audience, content or time_to_live it refuses."""
    if body.get("platform") not in ("all", ["android"], ["ios"], ["android", "ios"]):
        return jpush_error(400, 1003, "platform value is invalid")
    if not isinstance(ids, list) or not ids or len(ids) > 1000 or not all(isinstance(i, str) for i in ids):
        return jpush_error(400, 1003, "registration_id must be a list of 1 to 1000 strings")
    if "notification" not in body and "message" not in body:
        return jpush_error(400, 1003, "notification or message is required")
    ttl = body.get("options", {}).get("time_to_live", 86400)
    if not isinstance(ttl, int) or not 0 <= ttl <= max_ttl_s:
        return jpush_error(400, 1003, f"time_to_live must be an integer 0..{max_ttl_s}")
    if content_bytes(body) > MAX_CONTENT:
        return jpush_error(400, 1005, "Msg content too long")
    return None


class FakeJPush(FakeServer):
    def __init__(
        self, *, faults: Faults | None = None, registered: set[str] | None = None, vip: bool = False
    ) -> None:
        app = web.Application()
        app.router.add_post("/v3/push", self._push)
        super().__init__(app)
        self.faults = faults or Faults()
        self.registered = registered if registered is not None else set()
        self.max_ttl_s = VIP_MAX_TTL_S if vip else MAX_TTL_S
        self.delivered: Counter[str] = Counter()
        self.pushes: list[dict[str, Any]] = []
        self.requests = 0
        self._auth = "Basic " + base64.b64encode(f"{APP_KEY}:{MASTER_SECRET}".encode()).decode()

    async def __aenter__(self) -> FakeJPush:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _push(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != self._auth:
            return jpush_error(401, 1004, "Authen failed")
        f = self.faults
        if f.latency_s:
            await asyncio.sleep(f.latency_s)
        if f.in_storm(self.elapsed()):
            limits = {"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0"}
            return jpush_error(
                429,
                2002,
                "Request times of the app_key exceed the limit of current time window",
                **limits,
                **{"X-Rate-Limit-Reset": str(f.retry_after_s)},
            )
        if f.error():
            return jpush_error(f.error_status, 1000, "Server error")
        try:
            body = json.loads(await request.read())
            ids = body["audience"]["registration_id"]
        except (ValueError, KeyError, TypeError):
            return jpush_error(400, 1003, "audience value must be JSON object with registration_id")
        invalid = _invalid(body, ids, self.max_ttl_s)
        if invalid is not None:
            return invalid
        known = [i for i in dict.fromkeys(ids) if i in self.registered]
        if not known:
            return jpush_error(400, 1011, "cannot find user by this audience")
        for i in known:
            self.delivered[i] += 1
        self.pushes.append(body)
        if f.hang():
            await asyncio.sleep(f.hang_s)
        return web.json_response({"sendno": "0", "msg_id": str(secrets.randbelow(10**18))})
