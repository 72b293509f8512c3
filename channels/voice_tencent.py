"""Voice calls through Tencent Cloud VMS (腾讯云语音消息) API 3.0, SendTtsVoice version 2020-09-02: the
second voice provider, for failover inside mainland China.

`POST https://vms.tencentcloudapi.com/` (https://cloud.tencent.com/document/api/1128/51558) with a JSON body:
`TemplateId` (an approved voice template, one variable `{1}` for our text), `CalledNumber` (E.164, e.g.
+8613711112222), `VoiceSdkAppid`, `TemplateParamSet` (the text; at most 350 characters spoken, cut here),
`PlayTimes` (1–3, default 2), `SessionContext` (our delivery id, echoed back). Common parameters in X-TC-*
headers (Action SendTtsVoice, Version 2020-09-02, Region, Timestamp), signed TC3-HMAC-SHA256 exactly as the
SMS adapter signs (channels/sms_tencent.py `tc3_authorization`, service `vms`). The answer is
`Response.SendStatus.{CallId, SessionContext}`: the CallId is the delivery's provider reference, which the
call-status callbacks (channels/voice_tencent_webhook.py) name. Default request limit: 20/s.

VMS calls mainland mobiles only (https://cloud.tencent.com/document/api/1128/51568, 支持的号码): a landline or
a number outside +86 is refused here as a provider fault (`unsupported_number`), so the pool tries the
next provider (Twilio calls landlines) and never marks the person unreachable for it.

Errors (API 3.0 answers HTTP 200 with `Response.Error.Code`; codes from the SDK's errorcodes.py):
- `InvalidParameterValue.CalledNumberVerifyFail` → `invalid_number`, final (the number is bad everywhere);
- `LimitExceeded.DeliveryFrequencyLimit` (the per-number policy: 1 per 30 s, 2 per 10 min by default —
  https://cloud.tencent.com/document/product/213/38004) → `recipient_limit`, a provider fault (Twilio does not
  share it); `RequestLimitExceeded` (the 20/s API limit) and HTTP 429 → retryable;
- `FailedOperation.*`, `UnauthorizedOperation.*`, `AuthFailure.*`, other `InvalidParameterValue.*`,
  `InternalError.RequestTimeException`/`SigVerificationFail`/`RestApiInterfaceNotExist` → provider faults
  (nothing was called); other `InternalError`s (upstream timeout), HTTP 5xx, a timeout or reset after
  sending, an unreadable answer → `ambiguous`, final: the call may ring, its status callback settles it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from channels.base import Outgoing, SendResult
from channels.people_http import HttpAdapter
from channels.sms_tencent import CONTENT_TYPE, tc3_authorization
from channels.sms_text import is_e164, sms_text
from channels.voice_twilio import PROMPT, _seconds
from warnengine.model import Channel
from warnengine.obs import metrics

log = structlog.get_logger("warnengine.channels.voice_tencent")

ENDPOINT = "https://vms.tencentcloudapi.com"
SERVICE, VERSION, ACTION = "vms", "2020-09-02", "SendTtsVoice"
MAX_TEXT = 350  # characters a voice message may speak (documented)
MAINLAND_MOBILE = re.compile(r"\+861\d{10}")

_FINAL: dict[str, tuple[str, bool]] = {
    "InvalidParameterValue.CalledNumberVerifyFail": ("invalid_number", False),
    "LimitExceeded.DeliveryFrequencyLimit": ("recipient_limit", True),
    "FailedOperation.ContainSensitiveWord": ("bad_body", True),
    "FailedOperation.TemplateIncorrectOrUnapproved": ("template", True),
    "FailedOperation.InsufficientBalanceInVoicePackage": ("quota_exceeded", True),
    "InvalidParameterValue.ContentLengthLimit": ("bad_body", True),
}
_NOT_CALLED = (
    "AuthFailure",
    "UnauthorizedOperation",
    "FailedOperation",
    "InvalidParameter",
    "MissingParameter",
)
_NOT_CALLED_INTERNAL = {
    "InternalError.RequestTimeException",
    "InternalError.SigVerificationFail",
    "InternalError.RestApiInterfaceNotExist",
}


def spoken(text: str) -> str:
    """The template variable: the text and "press 1", within the 350 characters VMS speaks."""
    room = MAX_TEXT - len(PROMPT)
    return (text if len(text) <= room else text[: room - 1] + "…") + PROMPT


class TencentVoice(HttpAdapter):
    kind = Channel.VOICE

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        *,
        voice_sdk_app_id: str,
        template_id: str,
        region: str = "ap-guangzhou",
        endpoint: str = ENDPOINT,
        name: str = "tencent-voice",
        batch_size: int = 20,
        rate_per_s: float | None = 20.0,  # SendTtsVoice's documented default request limit
        play_times: int = 2,
        max_connections: int = 16,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= int(play_times) <= 3:
            raise ValueError("play_times must be 1, 2 or 3 (VMS PlayTimes)")
        self.name = name
        self.batch_size = batch_size
        self.rate_per_s = rate_per_s
        self._id, self._key = secret_id, secret_key
        self._app, self._template, self._region = voice_sdk_app_id, template_id, region
        self._plays = int(play_times)
        self._url = endpoint.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc
        self._limit = max_connections
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._wall = wall  # the signature's timestamp must be Tencent's wall clock, not a simulated one
        self._sem = asyncio.Semaphore(max_connections)

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        return list(await asyncio.gather(*(self._call(o) for o in batch)))

    def _body(self, o: Outgoing, text: str) -> dict[str, Any]:
        return {
            "TemplateId": self._template,
            "CalledNumber": o.recipient,
            "VoiceSdkAppid": self._app,
            "TemplateParamSet": [spoken(text)],
            "PlayTimes": self._plays,
            "SessionContext": o.delivery_id,
        }

    async def _call(self, o: Outgoing) -> SendResult:
        if not is_e164(o.recipient):
            return self._refused(o, "invalid_number", f"not an E.164 phone number: {o.recipient!r}")
        if not MAINLAND_MOBILE.fullmatch(o.recipient):  # VMS calls mainland mobiles only
            return self._refused(o, "unsupported_number", "tencent vms calls mainland mobiles only", True)
        text = sms_text(o.body)
        if text is None:
            return self._refused(o, "bad_body", "voice body has no text")
        payload = json.dumps(self._body(o, text), ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with self._sem:
                status, raw, retry_after = await self._post(payload)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            return SendResult(
                o.delivery_id, ok=False, retryable=True, code="connect_failed", reason=f"{e!r}",
                provider_fault=True,
            )  # fmt: skip
        except (TimeoutError, aiohttp.ClientError) as e:
            return self._ambiguous(o, f"request sent, no answer ({type(e).__name__})")
        return self._answer(o, status, raw, retry_after)

    async def _post(self, payload: bytes) -> tuple[int, bytes, str | None]:
        ts = int(self._wall())
        headers = {
            "Authorization": tc3_authorization(self._id, self._key, self._host, payload, ts, ACTION, SERVICE),
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": ACTION,
            "X-TC-Timestamp": str(ts),
            "X-TC-Version": VERSION,
            "X-TC-Region": self._region,
        }
        assert self._http is not None
        async with self._http.post(self._url, data=payload, headers=headers) as resp:
            return resp.status, await resp.read(), resp.headers.get("Retry-After")

    def _answer(self, o: Outgoing, status: int, raw: bytes, retry_after: str | None) -> SendResult:
        if status == 429:
            return SendResult(
                o.delivery_id, ok=False, retryable=True, code="rate_limited", reason="tencent vms http 429",
                retry_after_s=_seconds(retry_after),
            )  # fmt: skip
        if status >= 500:  # API 3.0 answers its own errors with 200: a 5xx says nothing about the call
            return self._ambiguous(o, f"tencent vms http {status}")
        try:
            answer = json.loads(raw)["Response"]
            assert isinstance(answer, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            if status != 200:
                return self._refused(o, "rejected", f"tencent vms http {status}", True)
            return self._ambiguous(o, "unreadable answer")
        error = answer.get("Error")
        if isinstance(error, dict):
            return self._error(
                o, str(error.get("Code")), f"{error.get('Message')} ({answer.get('RequestId')})"
            )
        sent = answer.get("SendStatus")
        call_id = sent.get("CallId") if isinstance(sent, dict) else None
        if not isinstance(call_id, str) or not call_id:
            return self._ambiguous(o, "answer without SendStatus.CallId")
        log.info("voice_call_placed", delivery_id=o.delivery_id, village=o.village_code, call_id=call_id)
        return SendResult(o.delivery_id, ok=True, provider_ref=call_id)

    def _error(self, o: Outgoing, code: str, message: str) -> SendResult:
        reason = f"tencent vms {code}: {message}"
        if code.startswith("RequestLimitExceeded"):  # no Retry-After in API 3.0: the backoff paces us
            return SendResult(o.delivery_id, ok=False, retryable=True, code="rate_limited", reason=reason)
        if code in _FINAL:
            label, fault = _FINAL[code]
            return self._refused(o, label, reason, fault)
        if code.startswith("InternalError") and code not in _NOT_CALLED_INTERNAL:
            return self._ambiguous(o, reason)  # an upstream timeout: the call may still ring
        if code.startswith(_NOT_CALLED) or code in _NOT_CALLED_INTERNAL or code.startswith("LimitExceeded"):
            return self._refused(o, "provider_rejected", reason, True)
        return self._refused(o, "rejected", reason, True)

    def _refused(self, o: Outgoing, code: str, reason: str, provider_fault: bool = False) -> SendResult:
        metrics.VOICE_CALLS.labels(self.name, "refused").inc()
        log.warning("voice_call_refused", delivery_id=o.delivery_id, village=o.village_code, code=code)
        return SendResult(o.delivery_id, ok=False, code=code, reason=reason, provider_fault=provider_fault)

    def _ambiguous(self, o: Outgoing, why: str) -> SendResult:
        log.warning("voice_call_ambiguous", delivery_id=o.delivery_id, village=o.village_code, why=why)
        return SendResult(o.delivery_id, ok=False, code="ambiguous", reason=f"ambiguous: {why}")
