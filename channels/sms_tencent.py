"""SMS through Tencent Cloud SMS (腾讯云短信) API 3.0, SendSms version 2021-01-11: the secondary provider.

`POST https://sms.tencentcloudapi.com/` with a JSON body (PhoneNumberSet ≤ 200 numbers, SmsSdkAppId,
TemplateId, SignName, TemplateParamSet) and the common parameters in headers (X-TC-Action, X-TC-Version,
X-TC-Timestamp, X-TC-Region), signed with TC3-HMAC-SHA256: a canonical request (method, URI `/`, empty query,
the signed headers content-type, host and x-tc-action, the SHA-256 of the body) hashed into a string to sign
with the credential scope `<UTC date>/sms/tc3_request`, keyed by HMAC-chaining "TC3"+SecretKey over the date,
the service and "tc3_request". Mainland SMS must use an approved template and signature, and Tencent does
not approve an all-variable "{1}" template (channels/sms_tencent_template.py): with `template` configured,
each delivery fills its variables (`template_params`: area, title, severity, hazard, instruction, each cut
to `variable_max` characters), validated at start; `body["template_params"]` overrides; without `template`
the legacy `[body["text"]]` is sent (and `warnengine channels check` reports the template).

Per-number refusals: a blocked number (FailedOperation.PhoneNumberOnBlacklist / …InBlacklist, the resident
unsubscribed or is on the carrier's do-not-disturb list) → `unsubscribed`, final; any LimitExceeded (the
number's or the application's daily/frequency limits, which are Tencent console settings Twilio does not
share) → a provider fault, so the delivery fails over instead of being "rejected".

The answer is per number (`SendStatusSet[].Code`, "Ok" when accepted), so one request carries many
deliveries and still yields one result each. Request-level errors (`Response.Error.Code`) apply to all.

The API has no idempotency key: any HTTP 5xx (API 3.0 answers its own errors with HTTP 200), a timeout or
reset after sending, an unreadable answer, an `InternalError`, or a number missing from the answer is
ambiguous. Each request carries a marker in `SessionContext` (the delivery id for one number, else a digest
of the request's delivery ids), which Tencent echoes in its status reports; an ambiguous number is looked up
with PullSmsSendStatusByPhoneNumber (reports since shortly before the attempt, paced under its documented
20 requests/s) and settled as in channels/ambiguous.py: found → sent with its SerialNo; not found →
retryable; the pull failing → final `ambiguous`. A report exists only once the carrier has answered, so
`report_wait_s` waits that long after the attempt before pulling: not found is only as good as that wait.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from channels import ambiguous
from channels import sms_tencent_template as tpl
from channels.base import Outgoing, SendResult
from channels.sms_text import is_e164, segments, sms_text
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel

log = structlog.get_logger("warnengine.channels.tencent")

ENDPOINT = "https://sms.tencentcloudapi.com"
SERVICE, VERSION, ACTION = "sms", "2021-01-11", "SendSms"
CONTENT_TYPE = "application/json; charset=utf-8"
MAX_NUMBERS = 200  # per SendSms request (documented)
PULL_ACTION = "PullSmsSendStatusByPhoneNumber"
PULL_LIMIT = 100  # reports per pull (documented maximum)
PULL_RATE_PER_S = 20.0  # PullSmsSendStatusByPhoneNumber's documented request limit

# Per-number codes (SendStatusSet[].Code) → (code label, provider_fault). Tencent's own limits and content
# filter are provider faults: Twilio does not share them, so the delivery may fail over.
_NUMBER_CODES: dict[str, tuple[str, bool]] = {
    "InvalidParameterValue.IncorrectPhoneNumber": ("invalid_number", False),
    "FailedOperation.PhoneNumberInBlacklist": ("unsubscribed", False),
    "FailedOperation.PhoneNumberOnBlacklist": ("unsubscribed", False),  # the SendSms API's own spelling
    "LimitExceeded.PhoneNumberDailyLimit": ("recipient_limit", True),
    "LimitExceeded.PhoneNumberOneHourLimit": ("recipient_limit", True),
    "LimitExceeded.PhoneNumberThirtySecondLimit": ("recipient_limit", True),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": ("recipient_limit", True),
    "FailedOperation.ContainSensitiveWord": ("bad_body", True),
}
# Request-level errors that are certainly not a send: our account/template/clock, not the recipients.
_PROVIDER_PREFIXES = ("AuthFailure", "UnauthorizedOperation", "FailedOperation", "InvalidParameter")
_NOT_SENT_INTERNAL = {"InternalError.RequestTimeException", "InternalError.SigFieldMissing"}


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the key derived from SecretKey, date and service."""

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(
    secret_id: str,
    secret_key: str,
    host: str,
    payload: bytes,
    timestamp: int,
    action: str = ACTION,
    service: str = SERVICE,
) -> str:
    """The Authorization header for one request (TC3-HMAC-SHA256, API 3.0 signature v3) to `service`
    (sms; vms for voice, channels/voice_tencent.py)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signed_headers = "content-type;host;x-tc-action"
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\nx-tc-action:{action.lower()}\n",
            signed_headers,
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = tc3_signature(secret_key, date, service, to_sign)
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


class TencentSms:
    kind = Channel.SMS

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        *,
        sdk_app_id: str,
        template_id: str,
        sign_name: str,
        region: str = "ap-guangzhou",
        endpoint: str = ENDPOINT,
        name: str = "tencent",
        batch_size: int = 1000,
        rate_per_s: float | None = None,
        max_connections: int = 32,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        lookup_skew_s: float = 120.0,
        report_wait_s: float = 0.0,
        template: str | None = None,  # the approved template's text, e.g. "{1}发布{2}，请{3}。"
        template_params: Sequence[str] = ("area", "title", "instruction"),
        variable_max: int = 12,  # characters per variable (12 for personal certification; see console)
        area: str = "",  # the issuing county's name, for an `area` variable
    ) -> None:
        self.name = name
        self.batch_size = batch_size
        self.rate_per_s = rate_per_s
        self._id, self._key = secret_id, secret_key
        self._app, self._template, self._sign, self._region = sdk_app_id, template_id, sign_name, region
        self._url = endpoint.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc
        self._limit = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._clock = clock or SystemClock()
        # The signature's timestamp is checked against Tencent's wall clock (±5 min), so it is the one
        # place that must not follow the engine's (possibly simulated) clock.
        self._wall = wall
        self._skew, self._report_wait_s = lookup_skew_s, report_wait_s
        self._pull_lock = asyncio.Lock()  # paces status pulls: one start per 1/PULL_RATE_PER_S
        self._next_pull = 0.0
        self._session: aiohttp.ClientSession | None = None
        if template is not None:
            tpl.validate(template, list(template_params), int(variable_max))
        self.template, self._tparams = template, tuple(template_params)
        self._vmax, self._area = int(variable_max), area

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit), timeout=self._timeout
            )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        results: dict[str, SendResult] = {}
        groups: dict[tuple[bool, tuple[str, ...]], list[list[Outgoing]]] = {}
        now = self._clock.now()
        for o in batch:
            params = self._params(o)
            if not is_e164(o.recipient):
                results[o.delivery_id] = _fail(
                    o, "invalid_number", f"not an E.164 phone number: {o.recipient!r}"
                )
            elif params is None:
                results[o.delivery_id] = _fail(o, "bad_body", "SMS body has no text or template_params")
            elif o.expires_at <= now:
                results[o.delivery_id] = _fail(o, "expired", "expired before sending")
            else:
                # One request: same template parameters, all mainland or all international, each number
                # once (the answer is matched back by number), at most 200 numbers.
                requests = groups.setdefault((o.recipient.startswith("+86"), params), [[]])
                target = next(
                    (
                        r
                        for r in requests
                        if len(r) < MAX_NUMBERS and all(x.recipient != o.recipient for x in r)
                    ),
                    None,
                )
                if target is None:
                    target = []
                    requests.append(target)
                target.append(o)
        calls = [self._request(list(params), r) for (_, params), reqs in groups.items() for r in reqs if r]
        for answered in await asyncio.gather(*calls):
            results.update(answered)
        return [results[o.delivery_id] for o in batch]

    def _params(self, o: Outgoing) -> tuple[str, ...] | None:
        given = o.body.get("template_params")
        if isinstance(given, list) and all(isinstance(p, str) for p in given):
            return tuple(given)
        if self.template is not None:
            return tpl.values(o.body, self._tparams, self._vmax, self._area)
        text = sms_text(o.body)
        return (text,) if text is not None else None

    async def _request(self, params: list[str], batch: list[Outgoing]) -> dict[str, SendResult]:
        """One SendSms request; its ambiguous numbers then looked up in the status reports."""
        marker = _marker(batch)
        started = self._wall()
        out = await self._send(params, batch, marker)
        unsure = [o for o in batch if out[o.delivery_id].code == "ambiguous"]
        if unsure:
            n = segments("".join(params))
            settled = await asyncio.gather(
                *(self._resolve(o, marker, started, out[o.delivery_id].reason or "", n) for o in unsure)
            )
            out.update((r.delivery_id, r) for r in settled)
        return out

    async def _post(self, action: str, body: dict[str, Any]) -> tuple[int, str]:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        ts = int(self._wall())
        headers = {
            "Authorization": tc3_authorization(self._id, self._key, self._host, payload, ts, action),
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(ts),
            "X-TC-Version": VERSION,
            "X-TC-Region": self._region,
        }
        assert self._session is not None
        async with self._session.post(self._url, data=payload, headers=headers) as resp:
            return resp.status, await resp.text()

    async def _send(self, params: list[str], batch: list[Outgoing], marker: str) -> dict[str, SendResult]:
        body = {
            "PhoneNumberSet": [o.recipient for o in batch],
            "SmsSdkAppId": self._app,
            "TemplateId": self._template,
            "SignName": self._sign,
            "TemplateParamSet": params,
            "SessionContext": marker,
        }
        try:
            status, text = await self._post(ACTION, body)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            return _all(
                batch, "connect_failed", f"could not connect: {e!r}", retryable=True, provider_fault=True
            )
        except (TimeoutError, aiohttp.ClientError) as e:
            return _all(batch, "ambiguous", f"ambiguous: request sent, no answer ({type(e).__name__}: {e})")
        if status >= 500:  # API 3.0 answers its own errors with 200: a 5xx says nothing about the send
            return _all(batch, "ambiguous", f"ambiguous: tencent http {status}")
        try:
            body = json.loads(text)["Response"]
        except (ValueError, KeyError, TypeError):
            if status != 200:
                return _all(batch, "rejected", f"tencent http {status}: {text[:200]}", provider_fault=True)
            return _all(batch, "ambiguous", f"ambiguous: unreadable answer: {text[:200]!r}")
        if isinstance(body.get("Error"), dict):
            return _request_error(batch, body["Error"], body.get("RequestId"))
        by_number = {s.get("PhoneNumber"): s for s in body.get("SendStatusSet") or [] if isinstance(s, dict)}
        out: dict[str, SendResult] = {}
        for o in batch:
            s = by_number.get(o.recipient)
            if s is None:
                out[o.delivery_id] = _fail(o, "ambiguous", "ambiguous: number missing from SendStatusSet")
            elif s.get("Code") == "Ok":
                fee = s.get("Fee")
                n = fee if isinstance(fee, int) and fee > 0 else segments("".join(params))
                out[o.delivery_id] = SendResult(
                    o.delivery_id, ok=True, provider_ref=s.get("SerialNo"), segments=n
                )
            else:
                code = str(s.get("Code"))
                default = (
                    ("quota_exceeded", True) if code.startswith("LimitExceeded") else ("rejected", False)
                )
                label, fault = _NUMBER_CODES.get(code, default)
                out[o.delivery_id] = _fail(
                    o, label, f"tencent {code}: {s.get('Message')}", provider_fault=fault
                )
        return out

    async def _resolve(self, o: Outgoing, marker: str, started: float, why: str, n: int) -> SendResult:
        """Did the ambiguous request text this number? Its status reports since shortly before the attempt,
        matched on our SessionContext marker."""
        why = why.removeprefix("ambiguous: ")
        wait = started + self._report_wait_s - self._wall()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            reports = await self._pull(o.recipient, int(started - self._skew))
        except _PullFailed as e:
            return ambiguous.unresolved(o.delivery_id, why, str(e))
        for r in reports:
            if isinstance(r, dict) and r.get("SessionContext") == marker:
                serial = r.get("SerialNo")
                ref = serial if isinstance(serial, str) else None
                return ambiguous.found(o.delivery_id, ref, f"{why}; Tencent report {ref}", n)
        return ambiguous.not_found(o.delivery_id, why)

    async def _pull(self, number: str, begin: int) -> list[Any]:
        """PullSmsSendStatusByPhoneNumber: the number's status reports since `begin` (UNIX seconds)."""
        async with self._pull_lock:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self._next_pull - loop.time()))
            self._next_pull = loop.time() + 1 / PULL_RATE_PER_S
        body = {"BeginTime": begin, "Offset": 0, "Limit": PULL_LIMIT, "PhoneNumber": number}
        body["SmsSdkAppId"] = self._app
        try:
            status, text = await self._post(PULL_ACTION, body)
            answer = json.loads(text)["Response"]
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError) as e:
            raise _PullFailed(f"{type(e).__name__}: {e}") from e
        if status != 200 or not isinstance(answer, dict):
            raise _PullFailed(f"tencent http {status}")
        error = answer.get("Error")
        if isinstance(error, dict):
            raise _PullFailed(f"tencent {error.get('Code')}: {error.get('Message')}")
        reports = answer.get("PullSmsSendStatusSet")
        return reports if isinstance(reports, list) else []


class _PullFailed(Exception):
    pass


def _marker(batch: list[Outgoing]) -> str:
    """Our SessionContext: the delivery id for a one-number request, else a digest of its delivery ids
    (the field is per request, and short)."""
    if len(batch) == 1:
        return batch[0].delivery_id
    digest = hashlib.sha256("\n".join(sorted(o.delivery_id for o in batch)).encode()).digest()
    return "batch:" + base64.urlsafe_b64encode(digest[:18]).decode()


def _fail(o: Outgoing, code: str, reason: str, **kw: Any) -> SendResult:
    return SendResult(o.delivery_id, ok=False, code=code, reason=reason, **kw)


def _all(batch: list[Outgoing], code: str, reason: str, **kw: Any) -> dict[str, SendResult]:
    return {o.delivery_id: _fail(o, code, reason, **kw) for o in batch}


def _request_error(batch: list[Outgoing], error: dict[str, Any], request_id: Any) -> dict[str, SendResult]:
    code, message = str(error.get("Code")), error.get("Message")
    reason = f"tencent {code}: {message} (RequestId {request_id})"
    if code.startswith("RequestLimitExceeded"):  # no Retry-After in API 3.0: the backoff paces us
        return _all(batch, "rate_limited", reason, retryable=True)
    if code.startswith("LimitExceeded"):  # the account's daily/frequency limits: Twilio does not share them
        return _all(batch, "quota_exceeded", reason, provider_fault=True)
    if code.startswith("InternalError") and code not in _NOT_SENT_INTERNAL:
        return _all(batch, "ambiguous", f"ambiguous: {reason}")
    if code in _NOT_SENT_INTERNAL or code.startswith(_PROVIDER_PREFIXES):
        return _all(
            batch, "auth" if code.startswith("AuthFailure") else "provider_error", reason, provider_fault=True
        )
    return _all(batch, "rejected", reason)
