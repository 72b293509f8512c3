"""Tencent Cloud SMS callbacks: status reports (回执) and replies (上行), as ChannelEvents.

Tencent pushes both as JSON to URLs configured in the SMS console (应用管理 → 回调配置):
- status reports (https://www.tencentcloud.com/document/product/382/43547, 短信下发状态通知): a JSON array,
  several reports per request, each `user_receive_time`, `nationcode`, `mobile`, `report_status`
  (SUCCESS | FAIL), `errmsg` (the receipt code, DELIVRD on success), `description`, `sid` (the SerialNo
  SendSms returned). → `kind="status"` with `provider_ref=sid` and no delivery id: the ack stage finds the
  delivery by the reference stored at dispatch (deliveries.provider_ref) and checks the reported number is
  that delivery's recipient (`sender`). SUCCESS → delivered; FAIL → failed with "errmsg: description".
- replies (https://www.tencentcloud.com/document/product/382/43548, 短信回复): `extend`, `mobile`,
  `nationcode`, `sign`, `text`, `time` (UNIX seconds). Documented as one object; an array of them is taken
  too. → `kind="reply"`, sender `+<nationcode><mobile>`, `ack_hint` for "1", "收到", "ok"…, at `time` (never
  later than now).
Both are answered `{"result": 0, "errmsg": "OK"}` as documented.

Authenticity: Tencent documents no signature on these callbacks (neither page has a header, token or
signing scheme), so anyone who knows the URL could post a report. The routes therefore carry a secret in the
path (`{prefix}/<token>/status`, `…/reply`; the token, ≥ 16 characters, comes from the environment and goes
only into the Tencent console), compared in constant time, and optionally a source-address allow-list
(`allow_from`, CIDRs; needs the real client address, i.e. no proxy in front or one aiohttp trusts). A wrong
token or address → 403 before the body is read. A forged report that gets past both can still only name a
`sid` we sent to that very number: any other is dead-lettered by the ack stage, never applied.

A body that is not JSON, or neither an object nor an array → 400 (`result` 1 with the reason). Items in an
array that lack a field are skipped, counted (`warnengine_wechat_webhook_requests_total{provider="tencent",
verdict="malformed_item"}`) and logged (without the number); the others still apply. If handing the
events on fails → 503, so Tencent may send them again (the ack stage is idempotent).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from channels.base import ChannelEvent
from channels.sms_twilio_webhook import OnEvents, is_ack
from warnengine.clock import Clock, SystemClock
from warnengine.model import DeliveryState
from warnengine.obs import log as obslog
from warnengine.obs import metrics

log = obslog.get("channels.sms_tencent_webhook")

MIN_TOKEN = 16
OK = {"result": 0, "errmsg": "OK"}
_DIGITS = re.compile(r"\d{1,15}")
Parse = Callable[[Any, str, float], ChannelEvent]
_STATES = {"SUCCESS": DeliveryState.DELIVERED, "FAIL": DeliveryState.FAILED}


class _BadItem(Exception):
    pass


def _number(item: dict[str, Any]) -> str:
    """The item's number as E.164 (`+` nationcode mobile)."""
    code, mobile = str(item.get("nationcode") or ""), str(item.get("mobile") or "")
    mobile = mobile.removeprefix("+").removeprefix(code) if mobile.startswith("+") else mobile
    if not _DIGITS.fullmatch(code) or not _DIGITS.fullmatch(mobile):
        raise _BadItem("missing or malformed nationcode/mobile")
    return f"+{code}{mobile}"


def status_event(item: Any, provider: str, now: float) -> ChannelEvent:
    if not isinstance(item, dict):
        raise _BadItem("a report is not an object")
    sid, status = item.get("sid"), item.get("report_status")
    if not isinstance(sid, str) or not sid or len(sid) > 64:
        raise _BadItem("missing or malformed sid")
    if status not in _STATES:
        raise _BadItem(f"unknown report_status {str(status)[:20]!r}")
    state = _STATES[status]
    reason = None
    if state is DeliveryState.FAILED:
        reason = f"{item.get('errmsg') or 'FAIL'}: {item.get('description') or ''}".strip(": ")[:200]
    return ChannelEvent(
        provider, "status", now, state=state, reason=reason, provider_ref=sid, sender=_number(item)
    )


def reply_event(item: Any, provider: str, now: float) -> ChannelEvent:
    if not isinstance(item, dict):
        raise _BadItem("a reply is not an object")
    text = item.get("text")
    if not isinstance(text, str):
        raise _BadItem("missing text")
    try:
        at = min(float(item["time"]), now)
    except (KeyError, TypeError, ValueError) as e:
        raise _BadItem("missing or malformed time") from e
    return ChannelEvent(provider, "reply", at, sender=_number(item), text=text, ack_hint=is_ack(text))


def tencent_routes(
    token: str,
    on_events: OnEvents,
    *,
    allow_from: Sequence[str] = (),
    prefix: str = "/webhooks/tencent-sms",
    provider: str = "tencent",
    clock: Clock | None = None,
) -> list[web.RouteDef]:
    """Routes for an aiohttp app: `{prefix}/{token}/status` and `{prefix}/{token}/reply`; the URLs to
    configure in the Tencent console are the public base + these paths."""
    if len(token) < MIN_TOKEN or not token.isascii() or "/" in token:
        raise ValueError(f"the Tencent callback token must be ≥ {MIN_TOKEN} ASCII characters without '/'")
    cb = _Callbacks(token, on_events, allow_from, provider, clock or SystemClock())

    async def status(request: web.Request) -> web.Response:
        return await cb.handle(request, status_event, "status")

    async def reply(request: web.Request) -> web.Response:
        return await cb.handle(request, reply_event, "reply")

    return [web.post(prefix + "/{token}/status", status), web.post(prefix + "/{token}/reply", reply)]


class _Callbacks:
    def __init__(
        self, token: str, on_events: OnEvents, allow_from: Sequence[str], provider: str, clock: Clock
    ) -> None:
        self.token, self.on_events, self.provider, self.clock = token.encode(), on_events, provider, clock
        self.networks = [ipaddress.ip_network(n, strict=False) for n in allow_from]

    def reject(self, request: web.Request) -> web.Response | None:
        given = request.match_info.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token):
            return _refuse(self.provider, "forged", "wrong callback token")
        if not self.networks:
            return None
        try:
            remote = ipaddress.ip_address(request.remote or "")
        except ValueError:
            return _refuse(self.provider, "forged", "no client address")
        if not any(remote in n for n in self.networks):
            return _refuse(self.provider, "forged", "client address not allowed")
        return None

    async def handle(self, request: web.Request, parse: Parse, kind: str) -> web.Response:
        refused = self.reject(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _bad(self.provider, "body is not JSON")
        if not isinstance(body, list | dict):
            return _bad(self.provider, "body is neither a JSON object nor an array")
        events = self.parse_all(body if isinstance(body, list) else [body], parse, kind)
        if events:
            try:
                await self.on_events(events)
            except Exception as e:
                metrics.WEBHOOK_REQUESTS.labels(self.provider, "failed").inc()
                log.error("tencent_webhook_handoff_failed", provider=self.provider, error=repr(e))
                return web.json_response({"result": 1, "errmsg": "could not record; retry"}, status=503)
        metrics.WEBHOOK_REQUESTS.labels(self.provider, "ok").inc()
        return web.json_response(OK)

    def parse_all(self, items: list[Any], parse: Parse, kind: str) -> list[ChannelEvent]:
        now, events, bad = self.clock.now(), [], 0
        for item in items:
            try:
                events.append(parse(item, self.provider, now))
            except _BadItem as e:
                bad += 1  # never the path in the log: it holds the token; never the number
                log.warning("tencent_webhook_bad_item", provider=self.provider, callback=kind, error=str(e))
        if bad:
            metrics.WEBHOOK_REQUESTS.labels(self.provider, "malformed_item").inc(bad)
        return events


def _refuse(provider: str, verdict: str, error: str) -> web.Response:
    metrics.WEBHOOK_REQUESTS.labels(provider, verdict).inc()
    log.warning("tencent_webhook_rejected", provider=provider, verdict=verdict, error=error)
    return web.json_response({"result": 1, "errmsg": "forbidden"}, status=403)


def _bad(provider: str, error: str) -> web.Response:
    metrics.WEBHOOK_REQUESTS.labels(provider, "malformed").inc()
    log.warning("tencent_webhook_rejected", provider=provider, verdict="malformed", error=error)
    return web.json_response({"result": 1, "errmsg": error}, status=400)
