"""Village WeChat groups through WeCom group robots (群机器人): `POST /cgi-bin/webhook/send?key=KEY`.

The recipient is the robot's key (the credential is the key itself: keep it out of logs). WeCom allows 20
messages a minute per robot; this adapter keeps a sliding one-minute window per key on the injected clock
and refuses locally (retryable, with `retry_after_s` until the oldest send leaves the window) instead of
spending a request that WeCom would answer with errcode 45009. A 45009 that still arrives (someone else
posts through the same robot) fills that key's window.

Text messages by default: village groups hold residents on personal WeChat, where WeCom markdown does not
render. Red and orange warnings @all members. A robot cannot receive replies, so these deliveries end at
`sent`; people are acknowledged through their own channels.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, Literal

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
)
from channels.people_http import truncate_utf8 as cut
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel
from warnengine.model.grid import mask_key
from warnengine.obs import log as obslog

log = obslog.get("warnengine.channels.wecom_robot")

API_BASE = "https://qyapi.weixin.qq.com"
PER_ROBOT_LIMIT = 20  # messages per robot per window (WeCom's documented robot limit)
WINDOW_S = 60.0
TEXT_MAX_BYTES = 2048  # text.content limit
MARKDOWN_MAX_BYTES = 4096

# errcode → (code label, retryable, provider_fault)
_ERRORS: dict[int, tuple[str, bool, bool]] = {
    45009: ("rate_limited", True, False),  # this robot's 20/min, or the API's frequency limit
    -1: ("server_error", True, True),  # "system busy, try again"
    93000: ("invalid_recipient", False, False),  # invalid webhook key: robot removed from the group
    93004: ("invalid_recipient", False, False),  # robot disabled
    44004: ("bad_body", False, False),  # empty content
    45002: ("bad_body", False, False),  # content too long
    40008: ("bad_body", False, False),  # invalid message type
}


class RobotWindow:
    """Sliding-window count of sends per robot key, on the engine clock."""

    def __init__(self, clock: Clock, limit: int = PER_ROBOT_LIMIT, window_s: float = WINDOW_S) -> None:
        self._clock, self._limit, self._window = clock, limit, window_s
        self._sent: dict[str, collections.deque[float]] = {}

    def _q(self, key: str) -> collections.deque[float]:
        q = self._sent.setdefault(key, collections.deque())
        cutoff = self._clock.now() - self._window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def wait_s(self, key: str) -> float:
        """0 if a message may go now, else seconds until a slot frees."""
        q = self._q(key)
        if len(q) < self._limit:
            return 0.0
        return max(0.0, q[0] + self._window - self._clock.now())

    def take(self, key: str) -> None:
        self._q(key).append(self._clock.now())

    def fill(self, key: str) -> None:
        """WeCom said 45009: treat this robot's window as full from now."""
        q = self._q(key)
        now = self._clock.now()
        while len(q) < self._limit:
            q.append(now)


class WeComRobotChannel(HttpAdapter):
    kind = Channel.WECHAT_GROUP
    per_recipient_limit = (PER_ROBOT_LIMIT, WINDOW_S)  # declared: 20 messages / 60 s per robot key

    def __init__(
        self,
        *,
        api_base: str = API_BASE,
        name: str = "wecom-robot",
        msgtype: Literal["text", "markdown"] = "text",
        mention_all: Sequence[str] = ("red", "orange"),
        batch_size: int = 200,
        rate_per_s: float | None = None,  # no account-wide limit: the limit is per robot (above)
        max_connections: int = 16,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.name, self.batch_size, self.rate_per_s = name, batch_size, rate_per_s
        self._url = f"{api_base.rstrip('/')}/cgi-bin/webhook/send"
        self._msgtype, self._mention_all = msgtype, frozenset(mention_all)
        self._limit = max_connections
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self.window = RobotWindow(clock or SystemClock())
        self._http: aiohttp.ClientSession | None = None

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        results = await bounded(self._limit, [functools.partial(self._send_one, o) for o in batch])
        record(self.kind.value, self.name, results)
        return results

    def payload(self, m: Message) -> dict[str, Any]:
        if self._msgtype == "markdown":
            content = f'## {m.title}\n> 预警级别:<font color="warning">{m.severity_zh}</font>\n\n{m.text}'
            return {"msgtype": "markdown", "markdown": {"content": cut(content, MARKDOWN_MAX_BYTES)}}
        text: dict[str, Any] = {"content": cut(f"【{m.title}】\n{m.text}", TEXT_MAX_BYTES)}
        if m.severity in self._mention_all:
            text["mentioned_list"] = ["@all"]
        return {"msgtype": "text", "text": text}

    async def _send_one(self, o: Outgoing) -> SendResult:
        r = await self._post(o)
        key = o.recipient.strip()
        if r.reason and len(key) >= 4 and key in r.reason:  # an error that quotes the URL: never the key
            r = dataclasses.replace(r, reason=r.reason.replace(key, mask_key(key)))
        return r

    async def _post(self, o: Outgoing) -> SendResult:
        key = o.recipient.strip()
        if not key or any(c in key for c in "/?&# "):
            return fail(o, "invalid_recipient", "not a WeCom robot key")
        m = Message.of(o)
        if m is None:
            return fail(o, "bad_body", "message body has no text")
        wait = self.window.wait_s(key)
        if wait > 0:
            reason = f"robot at {PER_ROBOT_LIMIT} messages/min; next slot in {wait:.1f} s"
            return fail(o, "rate_limited", reason, retryable=True, retry_after_s=wait)
        self.window.take(key)
        assert self._http is not None
        try:
            async with self._http.post(self._url, params={"key": key}, json=self.payload(m)) as resp:
                data = await read_json(resp)
                status, resp_headers = resp.status, resp.headers
        except (TimeoutError, aiohttp.ClientError) as e:
            return transport_failure(o, e)
        early = http_status_failure(o, status, resp_headers)
        if early is not None:
            return early
        if data is None:
            return fail(o, "bad_response", f"HTTP {status}, body not JSON")
        code = data.get("errcode")
        if code == 0:
            return SendResult(o.delivery_id, ok=True)
        label, retryable, provider_fault = _ERRORS.get(
            code if isinstance(code, int) else -2, ("rejected", False, False)
        )
        hold: float | None = None
        if code == 45009:
            self.window.fill(key)
            hold = WINDOW_S
        detail = f"wecom errcode {code}: {data.get('errmsg', '')}"
        log.info("robot_send_refused", code=code, label=label, village=o.village_code)
        return fail(o, label, detail, retryable=retryable, provider_fault=provider_fault, retry_after_s=hold)
