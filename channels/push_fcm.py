"""App push through Firebase Cloud Messaging HTTP v1: `POST /v1/projects/{project}/messages:send`.

Bearer token from the central token service (a service-account JWT exchanged for an OAuth2 token). HTTP
v1 sends to one registration token per request, so a batch is many requests in flight. `android.ttl` and
`apns-expiration` come from the warning's expiry; the data payload carries the delivery id for the app's
acknowledgement through the API.

Errors (the FcmError `errorCode` in `error.details`, else `error.status`):
UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH → final for that delivery; QUOTA_EXCEEDED (429),
UNAVAILABLE (503), INTERNAL (500) → retryable after Retry-After; 401 UNAUTHENTICATED → refresh the token
once and resend. Not every 401 is our OAuth token: THIRD_PARTY_AUTH_ERROR is also HTTP 401 ("APNs
certificate or web push auth key was invalid or missing",
https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode) and is a provider fault, never a refresh.
A project the service account may not send for answers 403 PERMISSION_DENIED: a provider fault
(configuration).

FCM refuses payloads over 4096 bytes ("This includes both the keys and the values"): the text is cut
(on a character boundary, with "…") until notification + data fit, with room to spare.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from channels.base import Outgoing, SendResult
from channels.people_http import (
    HttpAdapter,
    Message,
    bounded,
    fail,
    read_json,
    record,
    retry_after,
    transport_failure,
    truncate_utf8,
)
from channels.tokens import FcmTokenSource, TokenError, TokenService
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel
from warnengine.obs import log as obslog

log = obslog.get("warnengine.channels.fcm")

API_BASE = "https://fcm.googleapis.com"
MAX_TTL_S = 2419200  # FCM keeps a message at most 28 days
MAX_PAYLOAD = 4096  # bytes, keys and values (FCM ErrorCode reference, "Message too big")
PAYLOAD_BUDGET = MAX_PAYLOAD - 256  # what we fill: the JSON encoding and platform keys stay under the limit

# FCM error code → (code label, retryable, provider_fault)
_ERRORS: dict[str, tuple[str, bool, bool]] = {
    "UNREGISTERED": ("invalid_recipient", False, False),
    "INVALID_ARGUMENT": ("invalid_recipient", False, False),
    "SENDER_ID_MISMATCH": ("invalid_recipient", False, False),
    "QUOTA_EXCEEDED": ("rate_limited", True, False),
    "RESOURCE_EXHAUSTED": ("rate_limited", True, False),
    "UNAVAILABLE": ("server_error", True, True),
    "INTERNAL": ("server_error", True, True),
    "THIRD_PARTY_AUTH_ERROR": ("auth", False, True),
    "UNAUTHENTICATED": ("auth", True, True),
    "PERMISSION_DENIED": ("auth", False, True),
}


class FcmChannel(HttpAdapter):
    kind = Channel.APP
    # Which of a person's push tokens this provider takes (Outgoing.addresses): JPush ⇄ FCM failover.
    token_kind = "fcm"

    def __init__(
        self,
        project_id: str,
        service_account: dict[str, Any] | str,  # the key file's JSON: parsed, as text, or a path to it
        *,
        tokens: TokenService | None = None,
        api_base: str = API_BASE,
        token_uri: str | None = None,  # overrides the key file's token_uri (tests point it at the fake)
        name: str = "fcm",
        android_channel_id: str = "warnings",
        batch_size: int = 500,
        rate_per_s: float | None = None,  # FCM's per-project quota is far above a county's fan-out
        max_connections: int = 32,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.name, self.batch_size, self.rate_per_s = name, batch_size, rate_per_s
        self.source = FcmTokenSource.from_service_account(_key_file(service_account), token_uri)
        self._clock = clock or SystemClock()
        self._own_tokens = tokens is None
        self.tokens = tokens or TokenService(self._clock)
        self._url = f"{api_base.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._android_channel = android_channel_id
        self._limit = max_connections
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def message(self, o: Outgoing, m: Message, ttl: int) -> dict[str, Any]:
        """The v1 message, its text cut so the payload stays within FCM's 4096 bytes."""
        msg = self._message(o, m, m.text, ttl)
        size = payload_size(msg["message"])
        if size > PAYLOAD_BUDGET:
            room = len(m.text.encode()) - (size - PAYLOAD_BUDGET)
            msg = self._message(o, m, truncate_utf8(m.text, max(0, room)), ttl)
        return msg

    def _message(self, o: Outgoing, m: Message, text: str, ttl: int) -> dict[str, Any]:
        data = {  # FCM data values must be strings
            "delivery_id": o.delivery_id,
            "warning_id": m.warning_id,
            "severity": m.severity,
            "hazard": m.hazard,
            "expires_at": str(int(o.expires_at)),
        }
        return {
            "message": {
                "token": o.recipient,
                "notification": {"title": truncate_utf8(m.title, 512), "body": text},
                "data": data,
                "android": {
                    "ttl": f"{ttl}s",
                    "priority": "HIGH",
                    "notification": {"channel_id": self._android_channel},
                },
                "apns": {"headers": {"apns-expiration": str(int(o.expires_at)), "apns-priority": "10"}},
            }
        }

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        results = await bounded(self._limit, [functools.partial(self._send_one, o) for o in batch])
        record(self.kind.value, self.name, results)
        return results

    async def _send_one(self, o: Outgoing) -> SendResult:
        m = Message.of(o)
        if m is None:
            return fail(o, "bad_body", "message body has no text")
        if not o.recipient or len(o.recipient) > 4096 or any(c.isspace() for c in o.recipient):
            return fail(o, "invalid_recipient", "not an FCM registration token")
        ttl = int(o.expires_at - self._clock.now())
        if ttl < 1:
            return fail(o, "expired", f"expired {-ttl} s before sending")
        body = self.message(o, m, min(ttl, MAX_TTL_S))
        try:
            status, headers, data = await self.tokens.call(
                self.source, lambda t: self._post(t, body), _oauth_rejected
            )
        except TokenError as e:
            code = "server_error" if e.retryable else "auth"
            return fail(o, code, str(e), retryable=e.retryable, provider_fault=True)
        except (TimeoutError, aiohttp.ClientError) as e:
            return transport_failure(o, e)
        if status == 200 and data is not None:
            name = data.get("name")
            return SendResult(o.delivery_id, ok=True, provider_ref=name if isinstance(name, str) else None)
        err = data.get("error") if data else None
        fcm_code = _fcm_code(err) or {429: "QUOTA_EXCEEDED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(status)
        if fcm_code is None:
            if status in (502, 504) or data is None:
                return fail(o, "ambiguous" if status >= 500 else "bad_response", f"ambiguous: HTTP {status}")
            return fail(o, "rejected", f"fcm HTTP {status}: {err}")
        label, retryable, provider_fault = _ERRORS.get(fcm_code, ("rejected", False, False))
        if status == 401 and fcm_code not in _ERRORS:
            label, retryable, provider_fault = "auth", True, True
        message = err.get("message", "") if isinstance(err, dict) else ""
        log.info("fcm_refused", status=status, code=fcm_code, label=label)
        return fail(
            o,
            label,
            f"fcm {status} {fcm_code}: {message}",
            retryable=retryable,
            provider_fault=provider_fault,
            retry_after_s=retry_after(headers) if retryable else None,
        )

    async def _post(self, token: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, Any] | None]:
        assert self._http is not None
        headers = {"Authorization": f"Bearer {token}"}
        async with self._http.post(self._url, json=body, headers=headers) as resp:
            return resp.status, resp.headers, await read_json(resp)


def _oauth_rejected(out: tuple[int, Any, dict[str, Any] | None]) -> bool:
    """A 401 about our OAuth token (refresh and resend once), not THIRD_PARTY_AUTH_ERROR (APNs/Web Push
    credentials, also 401: resending cannot help)."""
    if out[0] != 401:
        return False
    err = out[2].get("error") if out[2] else None
    return _fcm_code(err) in (None, "UNAUTHENTICATED")


def payload_size(msg: dict[str, Any]) -> int:
    """An upper bound of FCM's payload size: the compact JSON of the parts the limit counts."""
    parts = {k: msg.get(k) for k in ("notification", "data")}
    parts["android"] = (msg.get("android") or {}).get("notification")
    parts["apns"] = (msg.get("apns") or {}).get("payload")
    return len(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode())


def _key_file(value: dict[str, Any] | str) -> dict[str, Any]:
    """config/channels.yaml passes strings (an env var holding the JSON, or the key file's path)."""
    if isinstance(value, dict):
        return value
    text = value if value.lstrip().startswith("{") else Path(value).read_text(encoding="utf-8")
    info = json.loads(text)
    if not isinstance(info, dict) or "private_key" not in info or "client_email" not in info:
        raise ValueError("not a Google service account key (needs private_key and client_email)")
    return info


def _fcm_code(err: Any) -> str | None:
    """The FcmError errorCode from `details`, else the google.rpc status (NOT_FOUND is not specific)."""
    if not isinstance(err, dict):
        return None
    for d in err.get("details") or []:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.firebase.fcm.v1.FcmError"):
            code = d.get("errorCode")
            if isinstance(code, str):
                return code
    status = err.get("status")
    return status if isinstance(status, str) and status in _ERRORS else None
