"""A local Tencent Cloud SMS API 3.0 endpoint: SendSms and PullSmsSendStatusByPhoneNumber, version 2021-01-11.

`POST /` with JSON and the common parameters in X-TC-* headers; verifies the TC3-HMAC-SHA256 Authorization
header itself (canonical request rebuilt from the headers it actually received, so a signer bug fails
here), the timestamp (±300 s) and the action. Always answers HTTP 200 with `{"Response": {...}}` as Tencent
does: errors as `Response.Error.{Code, Message}`, per-number results in `Response.SendStatusSet`.

SendSms echoes the request's `SessionContext` in each `SendStatusSet` entry. Every message sent leaves a
status report (`ReportStatus` SUCCESS, `Description` DELIVRD, with the request's `SessionContext`) that
PullSmsSendStatusByPhoneNumber returns (`BeginTime`, `Offset` 0, `Limit` ≤ 100, `PhoneNumber`,
`SmsSdkAppId`, optional `EndTime`, all times UNIX seconds) as `PullSmsSendStatusSet`. Real reports arrive
when the carrier answers (seconds to minutes); here at once, or after `report_delay_s`.

Faults: `error_rate` → HTTP 500 / 503 (`error_status`) before sending; `storm` windows →
`RequestLimitExceeded`; after sending: `after_error_rate` → HTTP `error_status`, `drop_rate` → connection
reset, `hang_rate` → never answers; `lookup_error_rate` → the status pull answers `InternalError`; `down`
refuses connections. `accepted[(phone, "|".join(TemplateParamSet))]` counts messages sent.

Callbacks (tests/fakes/tencent_callbacks.py): with `status_callback` set, each SendSms request's status
reports are POSTed there as one JSON array (after `report_delay_s`), SUCCESS/DELIVRD, or FAIL with the
`(errmsg, description)` of `report_failures[number]`; `reply(number, text)` POSTs a resident's reply to
`reply_callback`. `callbacks.pushed` keeps each (HTTP status, body); `callbacks.settle()` waits for them.

Strict mode (`templates` given: TemplateId → approved text) enforces Tencent's template, variable, blacklist
and limit rules (tests/fakes/tencent_rules.py, with the documentation cited there), and answers
DescribeSmsTemplateList (`TemplateIdSet`, `International`) with `DescribeTemplateStatusSet` entries
(`TemplateId`, `StatusCode` 0 approved / 1 in review / -1 rejected, `TemplateContent`, `ReviewReply`), as
https://www.tencentcloud.com/document/api/382/40524 describes. Without `templates`, any TemplateId goes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.faults import FakeServer, Faults, drop
from tests.fakes.tencent_callbacks import CallbackPusher, reply_body, status_report
from tests.fakes.tencent_rules import approvable, template_error

SECRET_ID = "AKIDfake0123456789abcdefEXAMPLE"
SECRET_KEY = "fakeSecretKey0123456789EXAMPLE"
SDK_APP_ID = "1400000000"
_AUTH = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>\w+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class FakeTencentSms(FakeServer):
    def __init__(
        self,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        *,
        faults: Faults | None = None,
        blacklisted: frozenset[str] = frozenset(),
        report_delay_s: float = 0.0,
        templates: dict[str, str] | None = None,  # strict: the approved templates, TemplateId → text
        variable_max: int = 12,
        number_daily_limit: int | None = None,
        app_daily_limit: int | None = None,
        status_callback: str | None = None,
        reply_callback: str | None = None,
        report_failures: dict[str, tuple[str, str]] | None = None,  # number → (errmsg, description)
    ) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        super().__init__(app)
        self.secret_id, self.secret_key = secret_id, secret_key
        self.faults = faults or Faults()
        self.blacklisted = blacklisted
        self.accepted: Counter[tuple[str, str]] = Counter()
        self.requests = 0
        self.lookups = 0
        self.errors: Counter[str] = Counter()
        self.report_delay_s = report_delay_s
        self.reports: list[tuple[float, str, dict[str, Any]]] = []  # (sent at, SmsSdkAppId, report)
        if templates and not all(approvable(t) for t in templates.values()):
            raise ValueError("Tencent would not approve one of these templates (all-variable or adjacent)")
        self.templates, self.variable_max = templates, variable_max
        self.pending_templates: dict[str, str] = {}  # submitted, still in review (StatusCode 1)
        self.number_daily_limit, self.app_daily_limit = number_daily_limit, app_daily_limit
        self.sent_today: Counter[str] = Counter()
        self.status_callback, self.reply_callback = status_callback, reply_callback
        self.report_failures = report_failures or {}
        self.callbacks = CallbackPusher()

    async def reply(self, number: str, text: str, sign: str = "县应急管理局") -> int:
        """A resident answers from `number`: Tencent POSTs the reply to the reply callback URL."""
        assert self.reply_callback, "no reply_callback configured"
        return await self.callbacks.post(self.reply_callback, reply_body(number, text, sign))

    async def stop(self) -> None:
        await self.callbacks.close()
        await super().stop()

    async def __aenter__(self) -> FakeTencentSms:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _error(self, code: str, message: str) -> web.Response:
        self.errors[code] += 1
        return web.json_response(
            {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": _rid()}}
        )

    def _verify(self, request: web.Request, payload: bytes) -> str | None:
        """None when the signature is right, else Tencent's error code."""
        return tc3_error(request, payload, self.secret_id, self.secret_key, "sms")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        f = self.faults
        if f.latency_s:
            await asyncio.sleep(f.latency_s)
        payload = await request.read()
        bad = self._verify(request, payload)
        if bad:
            return self._error(bad, "The provided credentials could not be validated.")
        action = request.headers.get("X-TC-Action")
        reads = {
            "PullSmsSendStatusByPhoneNumber": self._pull,
            "DescribeSmsTemplateList": self._describe_templates,
        }
        if (action != "SendSms" and action not in reads) or request.headers.get(
            "X-TC-Version"
        ) != "2021-01-11":
            return self._error("InvalidAction", "The action or version is not supported.")
        if f.in_storm(self.elapsed(), self.requests - 1):
            return self._error("RequestLimitExceeded", "Your current request times exceeds the limit.")
        if action in reads:
            return reads[action](payload)
        if f.error():
            return web.Response(status=f.error_status, text="Internal Server Error")
        try:
            body: dict[str, Any] = json.loads(payload)
            numbers = body["PhoneNumberSet"]
            params = body.get("TemplateParamSet") or []
            context = str(body.get("SessionContext") or "")
            assert isinstance(numbers, list) and 1 <= len(numbers) <= 200
            assert body.get("SmsSdkAppId") and body.get("TemplateId")
        except (ValueError, KeyError, AssertionError):
            return self._error("InvalidParameter", "The parameter is invalid or missing.")
        refused = self._strict(body, params, len(numbers))
        if refused is not None:
            return self._error(refused, "The request does not match Tencent's rules.")
        statuses = [self._one(str(n), params, context, str(body["SmsSdkAppId"])) for n in numbers]
        self._push_reports(statuses)
        # Sent, then the client gets no answer it can use: only a status pull can tell.
        after = f.after_create()
        if after == "error":
            return web.Response(status=f.error_status, text="Internal Server Error")
        if after == "drop":
            return await drop(request, f.hang_s)
        if after == "hang":
            await asyncio.sleep(f.hang_s)
        return web.json_response({"Response": {"SendStatusSet": statuses, "RequestId": _rid()}})

    def _push_reports(self, statuses: list[dict[str, Any]]) -> None:
        """The status reports of one SendSms, as one callback (Tencent batches them)."""
        if not self.status_callback:
            return
        now = time.time()
        pushed = [
            status_report(s["PhoneNumber"], s["SerialNo"], self.report_failures.get(s["PhoneNumber"]), now)
            for s in statuses
            if s["Code"] == "Ok"
        ]
        if pushed:
            self.callbacks.spawn(self.status_callback, pushed, self.report_delay_s)

    def _strict(self, body: dict[str, Any], params: list[str], n: int) -> str | None:
        """Strict mode: the request-level refusal for this SendSms, or None."""
        if self.templates is None:
            return None
        content = self.templates.get(str(body.get("TemplateId")))
        if content is None:
            return "FailedOperation.TemplateIncorrectOrUnapproved"
        bad = template_error(content, [str(p) for p in params], self.variable_max, str(body.get("SignName")))
        if bad is not None:
            return bad
        if self.app_daily_limit is not None and sum(self.sent_today.values()) + n > self.app_daily_limit:
            return "LimitExceeded.AppDailyLimit"
        return None

    def _describe_templates(self, payload: bytes) -> web.Response:
        try:
            body: dict[str, Any] = json.loads(payload)
            ids = [str(int(i)) for i in body["TemplateIdSet"]]
            assert int(body["International"]) in (0, 1) and 1 <= len(ids) <= 100
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error("InvalidParameter", "The parameter is invalid or missing.")
        known = {**self.pending_templates, **(self.templates or {})}
        missing = [i for i in ids if i not in known]
        if missing:
            return self._error("FailedOperation.TemplateIdNotExist", f"template {missing[0]} does not exist")
        rows = [
            {
                "TemplateId": int(i),
                "International": 0,
                "StatusCode": 0 if i in (self.templates or {}) else 1,
                "ReviewReply": "",
                "TemplateName": f"warning-{i}",
                "CreateTime": 1700000000,
                "TemplateContent": known[i],
            }
            for i in ids
        ]
        return web.json_response({"Response": {"DescribeTemplateStatusSet": rows, "RequestId": _rid()}})

    def _pull(self, payload: bytes) -> web.Response:
        """PullSmsSendStatusByPhoneNumber: one number's status reports sent since BeginTime, oldest first."""
        self.lookups += 1
        if self.faults.lookup_error():
            return self._error("InternalError", "An internal error has occurred. Retry your request.")
        try:
            body: dict[str, Any] = json.loads(payload)
            begin, limit, number, app = (
                int(body["BeginTime"]),
                int(body["Limit"]),
                str(body["PhoneNumber"]),
                str(body["SmsSdkAppId"]),
            )
            end = int(body["EndTime"]) if body.get("EndTime") is not None else None
            assert int(body["Offset"]) == 0 and 1 <= limit <= 100
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error("InvalidParameter", "The parameter is invalid or missing.")
        now = time.time()
        found = [
            r
            for at, a, r in self.reports
            if a == app
            and r["PhoneNumber"] == number
            and at >= begin
            and (end is None or at <= end + 1)  # seconds: the report's own second counts
            and at + self.report_delay_s <= now
        ]
        return web.json_response({"Response": {"PullSmsSendStatusSet": found[:limit], "RequestId": _rid()}})

    def _one(self, number: str, params: list[str], context: str, app: str) -> dict[str, Any]:
        status: dict[str, Any] = {
            "SerialNo": "",
            "PhoneNumber": number,
            "Fee": 0,
            "SessionContext": context,
            "IsoCode": "CN" if number.startswith("+86") else "DEF",
        }
        if not _E164.fullmatch(number):
            return {**status, "Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "wrong number"}
        if number in self.blacklisted:
            return {
                **status,
                "Code": "FailedOperation.PhoneNumberOnBlacklist",
                "Message": "number blacklisted",
            }
        if self.number_daily_limit is not None and self.sent_today[number] >= self.number_daily_limit:
            return {**status, "Code": "LimitExceeded.PhoneNumberDailyLimit", "Message": "daily limit"}
        self.sent_today[number] += 1
        self.accepted[(number, "|".join(params))] += 1
        text = "".join(params)
        fee = 1 if len(text) <= 70 else -(-len(text) // 67)
        serial = f"2028:{uuid.uuid4().int % 10**20:020d}"
        now = time.time()
        country = "86" if number.startswith("+86") else number[1:3]
        failure = self.report_failures.get(number)
        report = {
            "UserReceiveTime": int(now),
            "CountryCode": country,
            "SubscriberNumber": number[1 + len(country) :],
            "PhoneNumber": number,
            "SerialNo": serial,
            "ReportStatus": "FAIL" if failure else "SUCCESS",
            "Description": failure[0] if failure else "DELIVRD",
            "SessionContext": context,
        }
        self.reports.append((now, app, report))
        return {**status, "SerialNo": serial, "Fee": fee, "Code": "Ok", "Message": "send success"}


def _rid() -> str:
    return str(uuid.uuid4())


def tc3_error(
    request: web.Request, payload: bytes, secret_id: str, secret_key: str, service: str
) -> str | None:
    """None when the request's TC3-HMAC-SHA256 Authorization is right for `service`, else Tencent's error
    code (the canonical request rebuilt from the headers actually received; shared with the VMS fake)."""
    m = _AUTH.fullmatch(request.headers.get("Authorization", ""))
    if m is None:
        return "AuthFailure.SignatureFailure"
    if m["id"] != secret_id:
        return "AuthFailure.SecretIdNotFound"
    try:
        ts = int(request.headers.get("X-TC-Timestamp", ""))
    except ValueError:
        return "AuthFailure.SignatureFailure"
    if abs(time.time() - ts) > 300:
        return "AuthFailure.SignatureExpire"
    signed = m["signed"].split(";")
    if "content-type" not in signed or "host" not in signed:
        return "AuthFailure.SignatureFailure"
    headers = "".join(f"{h}:{request.headers.get(h, '').strip().lower()}\n" for h in signed)
    canonical = f"POST\n/\n\n{headers}\n{m['signed']}\n{hashlib.sha256(payload).hexdigest()}"
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{m['service']}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"TC3{secret_key}".encode()
    for part in (date, m["service"], "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    want = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if m["date"] != date or m["service"] != service or not hmac.compare_digest(want, m["sig"]):
        return "AuthFailure.SignatureFailure"
    return None
