"""Tencent Cloud VMS callbacks (语音回执): call status, key press, failure reason, as ChannelEvents.

VMS pushes JSON to the one event-callback URL configured in its console, one object per callback, keyed by
its kind (回执 API 文档, https://cloud.tencent.com/document/product/1128/51532):
- `voiceprompt_callback` (语音通知状态通知, …/1128/51534): `result` "0" answered, "1" not answered, "2"
  call error; `callid`, `mobile`, `nationcode`, `call_from`, `start_calltime`, `accept_time`,
  `end_calltime`, `fee`. → DELIVERED "answered" / FAILED "no_answer" / FAILED "failed".
- `voicekey_callback` (语音通知按键通知, …/1128/51535): `keypress`, `callid`, `mobile`, `nationcode`,
  `call_from`. "1" → ACKNOWLEDGED (the ack stage acknowledges the delivery as for Twilio's Gather);
  another key is counted and ignored.
- `voice_failure_callback` (语音送达失败原因通知, …/1128/51536): `failure_code` (推送回执错误码, …/1128/37531:
  2 通话中, 10 用户正忙 → busy; 5 无人接听, 20 无应答 → no_answer; 8 空号, 15 号码不存在 → invalid_number;
  others failed), `failure_reason`, `callid`, `mobile`, `nationcode`. → FAILED with that outcome.
Each names only the `callid` (SendTtsVoice's CallId): the event carries it as `provider_ref` and the
number as `sender`, so the ack stage finds the delivery placed under it and checks the number is that
delivery's recipient (warnengine/acks/people.py); an unknown call id is dead-lettered, never applied, and
a key press on a closed delivery is recorded with the reason. Answered `{"result": 0, "errmsg": "OK"}`.

Authenticity: like Tencent SMS, VMS documents no signature on its callbacks, so the route carries a secret
token in its path and an optional source allow-list, exactly as channels/sms_tencent_webhook.py (whose
checks this reuses): wrong token or address → 403 before the body is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from channels.base import ChannelEvent
from channels.sms_tencent_webhook import MIN_TOKEN, _BadItem, _Callbacks, _number
from channels.sms_twilio_webhook import OnEvents
from warnengine.clock import Clock, SystemClock
from warnengine.model import DeliveryState
from warnengine.obs import metrics

PROVIDER = "tencent-voice"
_RESULTS = {
    "0": (DeliveryState.DELIVERED, "answered"),
    "1": (DeliveryState.FAILED, "no_answer"),
    "2": (DeliveryState.FAILED, "failed"),
}
_FAILURES = {
    2: "busy",
    10: "busy",
    5: "no_answer",
    20: "no_answer",
    8: "invalid_number",
    15: "invalid_number",
}


def _call_id(item: dict[str, Any]) -> str:
    cid = item.get("callid")
    if not isinstance(cid, str) or not cid or len(cid) > 64:
        raise _BadItem("missing or malformed callid")
    return cid


def voice_event(body: Any, provider: str, now: float) -> ChannelEvent:
    """One VMS callback object → its event; _BadItem when it is none of the three or lacks a field."""
    if not isinstance(body, dict):
        raise _BadItem("a callback is not an object")
    for kind, parse in (
        ("voiceprompt_callback", _prompt),
        ("voicekey_callback", _key),
        ("voice_failure_callback", _failure),
    ):
        item = body.get(kind)
        if isinstance(item, dict):
            state, reason, outcome = parse(item)
            metrics.VOICE_CALLS.labels(provider, outcome).inc()
            return ChannelEvent(
                provider, "status", now, state=state, reason=reason, provider_ref=_call_id(item),
                sender=_number(item),
            )  # fmt: skip
    raise _BadItem("not a voiceprompt, voicekey or voice_failure callback")


def _prompt(item: dict[str, Any]) -> tuple[DeliveryState | None, str, str]:
    result = str(item.get("result"))
    if result not in _RESULTS:
        raise _BadItem(f"unknown result {result[:8]!r}")
    state, outcome = _RESULTS[result]
    said = "已接听" if outcome == "answered" else "未接通"
    return state, f"{outcome}: vms result {result} / {said}", outcome


def _key(item: dict[str, Any]) -> tuple[DeliveryState | None, str, str]:
    key = str(item.get("keypress", ""))[:4]
    if key == "1":
        return DeliveryState.ACKNOWLEDGED, "pressed 1 / 按1确认", "confirmed"
    # Another key: counted; the event carries no state, so the ack stage changes nothing.
    return None, f"pressed {key!r}", "other_key"


def _failure(item: dict[str, Any]) -> tuple[DeliveryState | None, str, str]:
    try:
        code = int(item["failure_code"])
    except (KeyError, TypeError, ValueError) as e:
        raise _BadItem("missing or malformed failure_code") from e
    outcome = _FAILURES.get(code, "failed")
    return DeliveryState.FAILED, f"{outcome}: vms {code} {str(item.get('failure_reason', ''))[:40]}", outcome


def tencent_voice_routes(
    token: str,
    on_events: OnEvents,
    *,
    allow_from: Sequence[str] = (),
    prefix: str = "/webhooks/tencent-voice",
    provider: str = PROVIDER,
    clock: Clock | None = None,
) -> list[web.RouteDef]:
    """`POST {prefix}/{token}/callback`: the URL to configure in the VMS console (事件回调)."""
    if len(token) < MIN_TOKEN or not token.isascii() or "/" in token:
        raise ValueError(f"the Tencent callback token must be ≥ {MIN_TOKEN} ASCII characters without '/'")
    cb = _Callbacks(token, on_events, allow_from, provider, clock or SystemClock())

    async def callback(request: web.Request) -> web.Response:
        return await cb.handle(request, voice_event, "voice")

    return [web.post(prefix + "/{token}/callback", callback)]
