"""App push through JPush (极光推送) v3: `POST /v3/push`, HTTP Basic auth `appKey:masterSecret`.

Each push carries a notification (shown by the OS, also when the app is closed) and a custom message (the
app's own handler, so an open app can show the warning full screen), with `options.time_to_live` set to
the seconds left until the warning expires; the extras carry the delivery id, which the app sends back to
the API when the resident taps "收到" (the app's acknowledgement path).

One registration id per request, by default. JPush accepts a list of up to 1000 ids, but then answers for
the list as a whole: ids it does not know are dropped silently and the push still succeeds, and error 1011
("no target") means none of them was known. Per-delivery results would be wrong for stale ids, and the
extras could no longer carry each delivery's id. `audience_batch=True` trades that for throughput on huge
fan-outs (one request per 1000 ids, results shared, extras carry the warning id only).

The text goes twice, no more: once as `notification.alert` (Android and iOS inherit it; a platform `alert`
would only repeat it) and once as the custom message's `msg_content`. JPush limits notification plus message
to 4000 bytes (error 1005 above it): a long text is cut, in both places, to fit. `time_to_live` is capped at
3 days, the most an ordinary JPush account keeps offline messages (1 day by default, 10 days only for VIP
accounts: `max_ttl_s`). docs.jiguang.cn/jpush/server/push/rest_api_v3_push ("options", "推送限制").

Errors: 1011 no such registration id → final for that delivery; 2002 / HTTP 429 rate limited → retryable,
after `X-Rate-Limit-Reset`; 1004/1008 authentication → provider fault; 1000 server error → retryable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from channels.base import Outgoing, SendResult
from channels.people_http import (
    HttpAdapter,
    Message,
    bounded,
    fail,
    http_status_failure,
    read_json,
    record,
    transport_failure,
    truncate_utf8,
)
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel
from warnengine.obs import log as obslog

log = obslog.get("warnengine.channels.jpush")

API_BASE = "https://api.jpush.cn"
MAX_TTL_S = 259200  # an ordinary account's offline messages are kept at most 3 days (VIP: 864000)
MAX_CONTENT = 4000  # bytes of notification + message together
_CONTENT_BUDGET = MAX_CONTENT - 64  # what we fill: JSON separators and escapes stay under the limit
MAX_AUDIENCE = 1000

# JPush error code → (code label, retryable, provider_fault). Unlisted codes are final rejections.
_ERRORS: dict[int, tuple[str, bool, bool]] = {
    1000: ("server_error", True, True),
    1011: ("invalid_recipient", False, False),  # cannot find user by this audience
    2002: ("rate_limited", True, False),  # API call frequency over the app's limit
    1004: ("auth", False, True),
    1008: ("auth", False, True),  # app_key invalid
    1003: ("bad_body", False, False),
    1005: ("bad_body", False, False),  # payload too big
    1030: ("server_error", True, True),  # internal service timeout
}


class JPushChannel(HttpAdapter):
    kind = Channel.APP
    # Which of a person's push tokens this provider takes (Outgoing.addresses): JPush ⇄ FCM failover.
    token_kind = "jpush"

    def __init__(
        self,
        app_key: str,
        master_secret: str,
        *,
        api_base: str = API_BASE,
        name: str = "jpush",
        apns_production: bool = True,
        audience_batch: bool = False,
        batch_size: int = 500,
        rate_per_s: float | None = 10.0,  # JPush's default Push API limit is 600 calls a minute
        max_connections: int = 16,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        clock: Clock | None = None,
        max_ttl_s: int = MAX_TTL_S,
    ) -> None:
        self.name, self.batch_size, self.rate_per_s = name, batch_size, rate_per_s
        self._max_ttl_s = max_ttl_s
        self._url = f"{api_base.rstrip('/')}/v3/push"
        auth = base64.b64encode(f"{app_key}:{master_secret}".encode()).decode()
        self._headers = {"Authorization": f"Basic {auth}"}
        self._apns_production, self._audience_batch = apns_production, audience_batch
        self._limit = max_connections
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._clock = clock or SystemClock()
        self._http: aiohttp.ClientSession | None = None

    def payload(self, ids: list[str], m: Message, ttl: int, delivery_id: str | None) -> dict[str, Any]:
        """The push, its text cut so notification + message stay within JPush's 4000 bytes."""
        text = m.text
        body = self._payload(ids, m, text, ttl, delivery_id)
        while (over := content_size(body) - _CONTENT_BUDGET) > 0:
            # The text is in twice: each copy gives up half (escapes may need another round).
            cut = truncate_utf8(text, max(0, len(text.encode()) - (over + 1) // 2))
            if cut == text:  # nothing left to cut: the fake/provider answers 1005, a final rejection
                break
            text = cut
            body = self._payload(ids, m, text, ttl, delivery_id)
        return body

    def _payload(
        self, ids: list[str], m: Message, text: str, ttl: int, delivery_id: str | None
    ) -> dict[str, Any]:
        extras = {"warning_id": m.warning_id, "severity": m.severity, "hazard": m.hazard}
        if delivery_id is not None:
            extras["delivery_id"] = delivery_id
        title = truncate_utf8(m.title, 200)
        return {
            "platform": "all",
            "audience": {"registration_id": ids},
            "notification": {
                "alert": text,
                "android": {"title": title, "priority": 2, "extras": extras},
                "ios": {"sound": "default", "extras": extras},
            },
            "message": {"msg_content": text, "title": title, "content_type": "warning", "extras": extras},
            "options": {"time_to_live": ttl, "apns_production": self._apns_production},
        }

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        now = self._clock.now()
        results: dict[int, SendResult] = {}
        ready: list[tuple[int, Message, int]] = []
        for i, o in enumerate(batch):
            m = Message.of(o)
            ttl = int(o.expires_at - now)
            if m is None:
                results[i] = fail(o, "bad_body", "message body has no text")
            elif not o.recipient or len(o.recipient) > 64 or not o.recipient.isalnum():
                reason = f"not a JPush registration id: {o.recipient[:64]!r}"
                results[i] = fail(o, "invalid_recipient", reason)
            elif ttl < 1:
                results[i] = fail(o, "expired", f"expired {-ttl} s before sending")
            else:
                ready.append((i, m, min(ttl, self._max_ttl_s)))
        chunks = self._chunks(ready)
        jobs = [lambda ch=ch: self._push([batch[i] for i, _, _ in ch], ch[0][1], ch[0][2]) for ch in chunks]
        for chunk, res in zip(chunks, await bounded(self._limit, jobs), strict=True):
            results.update(zip((i for i, _, _ in chunk), res, strict=True))
        out = [results[i] for i in range(len(batch))]
        record(self.kind.value, self.name, out)
        return out

    def _chunks(self, ready: list[tuple[int, Message, int]]) -> list[list[tuple[int, Message, int]]]:
        if not self._audience_batch:
            return [[r] for r in ready]
        groups: dict[Message, list[tuple[int, Message, int]]] = {}
        for r in ready:
            groups.setdefault(r[1], []).append(r)  # ttl: the group's first (same warning, same expiry)
        return [g[s : s + MAX_AUDIENCE] for g in groups.values() for s in range(0, len(g), MAX_AUDIENCE)]

    async def _push(self, group: list[Outgoing], m: Message, ttl: int) -> list[SendResult]:
        assert self._http is not None
        ids = list(dict.fromkeys(o.recipient for o in group))
        body = self.payload(ids, m, ttl, group[0].delivery_id if len(group) == 1 else None)
        try:
            async with self._http.post(self._url, json=body, headers=self._headers) as resp:
                status, headers, data = resp.status, resp.headers, await read_json(resp)
        except (TimeoutError, aiohttp.ClientError) as e:
            return [transport_failure(o, e) for o in group]
        err = data.get("error") if data else None
        code = err.get("code") if isinstance(err, dict) else None
        if status == 429 or code == 2002:
            wait, reason = _reset_after(headers), f"jpush {status}/{code}: rate limited"
            return [fail(o, "rate_limited", reason, retryable=True, retry_after_s=wait) for o in group]
        early = http_status_failure(group[0], status, headers)
        if early is not None:
            return [http_status_failure(o, status, headers) or early for o in group]
        if data is None:
            return [fail(o, "bad_response", f"HTTP {status}, body not JSON") for o in group]
        if status == 200 and err is None:
            ref = str(data.get("msg_id") or "") or None
            return [SendResult(o.delivery_id, ok=True, provider_ref=ref) for o in group]
        fallback = ("rejected", False, status in (401, 403))
        label, retryable, provider_fault = _ERRORS.get(code if isinstance(code, int) else -1, fallback)
        detail = f"jpush {status}/{code}: {err.get('message', '') if isinstance(err, dict) else data}"
        log.info("jpush_refused", code=code, label=label, recipients=len(ids))
        return [fail(o, label, detail, retryable=retryable, provider_fault=provider_fault) for o in group]


def content_size(body: dict[str, Any]) -> int:
    """Bytes of the notification and message objects as compact UTF-8 JSON (what the limit counts)."""
    parts = {k: body[k] for k in ("notification", "message") if k in body}
    return len(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode())


def _reset_after(headers: Any) -> float | None:
    """JPush puts the seconds until its rate window resets in X-Rate-Limit-Reset (Retry-After if any)."""
    for name in ("Retry-After", "X-Rate-Limit-Reset"):
        value = headers.get(name) if headers is not None else None
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None
