"""A local Tencent Cloud VMS API 3.0 endpoint: SendTtsVoice, version 2020-09-02, and its callbacks.

`POST /` with JSON and the common parameters in X-TC-* headers, the TC3-HMAC-SHA256 Authorization checked
for service `vms` (tests/fakes/tencent_sms.py `tc3_error`: canonical request rebuilt from the headers
received, timestamp ±300 s). Always HTTP 200 with `{"Response": {...}}` as Tencent answers (errors as
`Response.Error.{Code, Message}`), as https://cloud.tencent.com/document/api/1128/51558 documents:
- required `TemplateId` (one of `templates`, else FailedOperation.TemplateIncorrectOrUnapproved),
  `CalledNumber` (a mainland mobile `+861…`, else InvalidParameterValue.CalledNumberVerifyFail),
  `VoiceSdkAppid` (= `sdk_app_id`, else UnauthorizedOperation.VoiceSdkAppidVerifyFail); optional
  `TemplateParamSet` (strings, ≤ 350 characters in all, else InvalidParameterValue.ContentLengthLimit),
  `PlayTimes` (1–3), `SessionContext`; a missing or mistyped field → FailedOperation.InvalidParameters.
- the per-number frequency policy (https://cloud.tencent.com/document/product/213/38004: one call per number
  in 30 s by default, `per_number_30s`) → LimitExceeded.DeliveryFrequencyLimit;
- `Faults`: storms → RequestLimitExceeded (the 20/s API limit), or HTTP 429 with Retry-After when
  `storm_as_http_429`; `error_rate` → HTTP `error_status` before calling; after calling: `after_error_rate`
  → HTTP `error_status`, `drop_rate` → reset, `hang_rate` → no answer; `set_down()` refuses connections.
- success: `Response.SendStatus.{CallId, SessionContext}` and the call is placed: `calls[CallId]`.

Each call is then played per the outcome injected for its number (`outcomes[number]`, one or a list used one
per call; `default_outcome` otherwise) and, with `callback` set, VMS's callbacks are POSTed there as
https://cloud.tencent.com/document/product/1128/51532 describes: "press1"/"press2" → `voicekey_callback`
(keypress) then `voiceprompt_callback` result "0"; "answered" → result "0"; "no_answer" → result "1" and a
`voice_failure_callback` (failure_code 5 无人接听); "busy" → result "2" and failure_code 2 (通话中). VMS signs
nothing it pushes: the URL (with our secret token) is all the receiver has.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.faults import FakeServer, Faults, drop
from tests.fakes.tencent_callbacks import CallbackPusher, split_number
from tests.fakes.tencent_sms import SECRET_ID, SECRET_KEY, tc3_error

__all__ = ["SECRET_ID", "SECRET_KEY", "VOICE_APP_ID", "FakeTencentVoice", "VmsCall"]

VOICE_APP_ID = "1400006666"
TEMPLATE_ID = "4356"
MAX_CHARS = 350
_MAINLAND_MOBILE = re.compile(r"\+861\d{10}")
_FAILURE = {"no_answer": (5, "无人接听"), "busy": (2, "通话中")}
_RESULT = {"press1": "0", "press2": "0", "answered": "0", "no_answer": "1", "busy": "2"}


@dataclass
class VmsCall:
    call_id: str
    number: str
    params: list[str]
    play_times: int
    context: str
    outcome: str


class FakeTencentVoice(FakeServer):
    def __init__(
        self,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        *,
        sdk_app_id: str = VOICE_APP_ID,
        templates: frozenset[str] = frozenset({TEMPLATE_ID}),
        faults: Faults | None = None,
        storm_as_http_429: bool = False,
        per_number_30s: int | None = 1,
        outcomes: dict[str, str | list[str]] | None = None,
        default_outcome: str = "press1",
        callback: str | None = None,
        callback_delay_s: float = 0.0,
    ) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        super().__init__(app)
        self.secret_id, self.secret_key, self.sdk_app_id = secret_id, secret_key, sdk_app_id
        self.templates = templates
        self.faults = faults or Faults()
        self.storm_as_http_429 = storm_as_http_429
        self.per_number_30s = per_number_30s
        self.outcomes: dict[str, str | list[str]] = dict(outcomes or {})
        self.default_outcome = default_outcome
        self.callback, self.callback_delay_s = callback, callback_delay_s
        self.calls: dict[str, VmsCall] = {}
        self.placed: Counter[str] = Counter()  # number → calls placed
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.callbacks = CallbackPusher()
        self._recent: dict[str, list[float]] = {}

    async def __aenter__(self) -> FakeTencentVoice:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        await self.callbacks.close()
        await super().stop()

    def _error(self, code: str, message: str) -> web.Response:
        self.errors[code] += 1
        rid = str(uuid.uuid4())
        return web.json_response(
            {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": rid}}
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        f = self.faults
        if f.latency_s:
            await asyncio.sleep(f.latency_s)
        payload = await request.read()
        bad = tc3_error(request, payload, self.secret_id, self.secret_key, "vms")
        if bad:
            return self._error(bad, "The provided credentials could not be validated.")
        if request.headers.get("X-TC-Action") != "SendTtsVoice" or request.headers.get("X-TC-Version") != (
            "2020-09-02"
        ):
            return self._error("InvalidAction", "The action or version is not supported.")
        if f.in_storm(self.elapsed(), self.requests - 1):
            if self.storm_as_http_429:
                return web.Response(status=429, headers={"Retry-After": str(f.retry_after_s)})
            return self._error("RequestLimitExceeded", "Your current request times exceeds the limit.")
        if f.error():
            return web.Response(status=f.error_status, text="Internal Server Error")
        try:
            body: dict[str, Any] = json.loads(payload)
        except ValueError:
            return self._error("FailedOperation.InvalidJsonParameters", "invalid JSON")
        refused = self._refusal(body)
        if refused is not None:
            return self._error(refused, "The request does not match the API's rules.")
        call = self._place(body)
        after = f.after_create()
        if after == "error":
            return web.Response(status=f.error_status, text="Internal Server Error")
        if after == "drop":
            return await drop(request, f.hang_s)
        if after == "hang":
            await asyncio.sleep(f.hang_s)
        status = {"CallId": call.call_id, "SessionContext": call.context}
        return web.json_response({"Response": {"SendStatus": status, "RequestId": str(uuid.uuid4())}})

    def _refusal(self, body: dict[str, Any]) -> str | None:
        """Tencent's error code for this SendTtsVoice, or None when it would be called."""
        number, app, template = body.get("CalledNumber"), body.get("VoiceSdkAppid"), body.get("TemplateId")
        params = body.get("TemplateParamSet", [])
        plays = body.get("PlayTimes", 2)
        if not all(isinstance(x, str) for x in (number, app, template)):
            return "FailedOperation.InvalidParameters"
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return "FailedOperation.InvalidParameters"
        if not isinstance(plays, int) or not 1 <= plays <= 3:
            return "FailedOperation.InvalidParameters"
        if not isinstance(body.get("SessionContext", ""), str):
            return "FailedOperation.InvalidParameters"
        if app != self.sdk_app_id:
            return "UnauthorizedOperation.VoiceSdkAppidVerifyFail"
        if template not in self.templates:
            return "FailedOperation.TemplateIncorrectOrUnapproved"
        assert isinstance(number, str)
        if not _MAINLAND_MOBILE.fullmatch(number):
            return "InvalidParameterValue.CalledNumberVerifyFail"
        if sum(len(p) for p in params) > MAX_CHARS:
            return "InvalidParameterValue.ContentLengthLimit"
        now = time.monotonic()
        recent = [t for t in self._recent.get(number, []) if now - t < 30]
        if self.per_number_30s is not None and len(recent) >= self.per_number_30s:
            return "LimitExceeded.DeliveryFrequencyLimit"
        self._recent[number] = [*recent, now]
        return None

    def _place(self, body: dict[str, Any]) -> VmsCall:
        number = str(body["CalledNumber"])
        planned = self.outcomes.get(number, self.default_outcome)
        n = self.placed[number]
        outcome = planned if isinstance(planned, str) else planned[min(n, len(planned) - 1)]
        call = VmsCall(
            str(uuid.uuid4()),
            number,
            list(body.get("TemplateParamSet", [])),
            int(body.get("PlayTimes", 2)),
            str(body.get("SessionContext", "")),
            outcome,
        )
        self.calls[call.call_id] = call
        self.placed[number] += 1
        if self.callback:
            for payload in callbacks_of(call):
                self.callbacks.spawn(self.callback, payload, self.callback_delay_s)
        return call

    async def settle(self) -> None:
        await self.callbacks.settle()


def callbacks_of(call: VmsCall) -> list[dict[str, Any]]:
    """What VMS pushes for a call, in order (the documented bodies)."""
    code, mobile = split_number(call.number)
    start = int(time.time())
    common = {"callid": call.call_id, "mobile": mobile, "nationcode": code, "call_from": ""}
    out: list[dict[str, Any]] = []
    if call.outcome in ("press1", "press2"):
        out.append({"voicekey_callback": {**common, "keypress": call.outcome[-1]}})
    out.append(
        {
            "voiceprompt_callback": {
                **common,
                "result": _RESULT[call.outcome],
                "start_calltime": str(start),
                "accept_time": str(start + 5) if _RESULT[call.outcome] == "0" else "0",
                "end_calltime": str(start + 30),
                "fee": "1" if _RESULT[call.outcome] == "0" else "0",
            }
        }
    )
    if call.outcome in _FAILURE:
        failure_code, reason = _FAILURE[call.outcome]
        out.append(
            {"voice_failure_callback": {**common, "failure_code": failure_code, "failure_reason": reason}}
        )
    return out
