"""SMS through Twilio's Messages API, with the `twilio` package's async client.

One POST /2010-04-01/Accounts/{AccountSid}/Messages.json per delivery, many in flight at once. The SDK's
own retries stay off (its aiohttp_retry client re-POSTs on 5xx and timeouts and can send an SMS twice):
the dispatch layer decides what is retried, and this adapter tells it which failures are safe to retry.

- Safe to retry: the connection was never made (refused, connect timeout), 429/20429 (rate limited,
  with Retry-After).
- Ambiguous: any 5xx to the create, a read timeout or a dropped connection after the request was written,
  an unreadable 2xx: Twilio may have created the message, and the Messages API has no idempotency key.
  The adapter then lists the messages to that number (`GET .../Messages.json?To=`, newest first) and looks
  for this body created since shortly before the attempt (channels/ambiguous.py): found → sent with that
  sid; not found → retryable; the lookup failing too → `code="ambiguous"`, final, never sent again (the
  status callback, which carries our delivery id in its URL, may still settle it).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels import ambiguous
from channels.base import Outgoing, SendResult
from channels.sms_text import is_e164, segments, sms_text
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel

log = structlog.get_logger("warnengine.channels.twilio")

API_BASE = "https://api.twilio.com"
MAX_VALIDITY_S = 36000  # Twilio accepts ValidityPeriod 1..36000 seconds
STATUS_PATH = "/webhooks/twilio/status"
LOOKUP_PAGE = 50  # the newest messages to a number looked at when settling an ambiguous send

# Twilio error code → (code label, provider_fault). Everything here is final for this delivery; a
# provider fault (our account or sender, not the recipient) lets the dispatch layer try the other provider.
_FINAL: dict[int, tuple[str, bool]] = {
    21211: ("invalid_number", False),  # Invalid 'To' Phone Number
    21614: ("invalid_number", False),  # 'To' number is not a valid mobile number
    21610: ("unsubscribed", False),  # the recipient replied STOP: respect it on every provider
    21612: ("unreachable", False),  # cannot route to this number
    21408: ("region_not_enabled", True),  # permission to send to this region is off for the account
    21606: ("bad_sender", True),  # the From number is not SMS-capable or not ours
    21602: ("bad_body", False),
    21617: ("bad_body", False),  # body over 1600 characters
    20003: ("auth", True),
    20404: ("auth", True),  # wrong account in the path
}


def error_label(code: int) -> tuple[str, bool]:
    """(code label, provider_fault) of a Twilio error code, whether it came back from the create or later
    in a `failed` status callback (a Messaging Service reports 21610/21211 that way)."""
    return _FINAL.get(code, ("rejected", False))


@dataclass
class _Seen:
    """The last HTTP response's headers in this task: the SDK's exception drops them (Retry-After)."""

    headers: dict[str, str] | None = None


_SEEN: contextvars.ContextVar[_Seen | None] = contextvars.ContextVar("twilio_seen", default=None)


class _NoRetryHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's async HTTP client on our own session: no retries, split connect/read timeouts.

    `AsyncTwilioHttpClient.request` turns `timeout=None` into "no timeout at all" and wraps the session
    in aiohttp_retry when `max_retries` is set; overriding `request` keeps the session's timeouts and
    records the response headers for the caller.
    """

    def __init__(self, session: aiohttp.ClientSession) -> None:
        super().__init__(pool_connections=False, max_retries=None)
        self.session = session

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        assert self.session is not None
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        body = _form(data).encode() if data else None
        async with self.session.request(
            method.upper(),
            url,
            params=params,  # type: ignore[arg-type]
            data=body,
            headers=headers,
            allow_redirects=allow_redirects,
        ) as resp:
            text = (await resp.read()).decode("utf-8", "replace")  # Twilio answers UTF-8 JSON
            seen = _SEEN.get()
            if seen is not None and resp.status >= 400:  # only errors need them (Retry-After)
                seen.headers = dict(resp.headers)
            return Response(resp.status, text, resp.headers)


@functools.lru_cache(maxsize=4096)
def _quote(value: str) -> str:
    return quote_plus(value)


def _form(data: dict[str, object]) -> str:
    """application/x-www-form-urlencoded, with the repeated values (Body, From, the callback base) quoted
    once: byte-by-byte quoting of a Chinese body was the client's largest single CPU cost per message."""
    pairs = ((k, v) for k, vs in data.items() for v in (vs if isinstance(vs, list) else [vs]))
    return "&".join(f"{_quote(k)}={_quote(str(v))}" for k, v in pairs)


class TwilioSms:
    kind = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_base: str | None = None,
        api_base: str = API_BASE,
        name: str = "twilio",
        batch_size: int = 100,
        rate_per_s: float | None = None,
        max_connections: int = 64,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        lookup_skew_s: float = 120.0,
    ) -> None:
        if not (from_ or messaging_service_sid):
            raise ValueError("TwilioSms needs from_ or messaging_service_sid")
        self.name = name
        self.batch_size = batch_size
        self.rate_per_s = rate_per_s
        self._sid, self._token = account_sid, auth_token
        self._from, self._mss = from_, messaging_service_sid
        self._callback_base = status_callback_base.rstrip("/") if status_callback_base else None
        self._api_base = api_base.rstrip("/")
        self._limit = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._clock = clock or SystemClock()
        # Twilio's date_created is its wall clock, not the engine's (possibly simulated) one; the skew
        # covers the two clocks disagreeing when matching a message to an attempt.
        self._wall, self._skew = wall, lookup_skew_s
        self._session: aiohttp.ClientSession | None = None
        self._client: Client | None = None
        # Queue here rather than in aiohttp's pool: time spent waiting there counts as connect timeout.
        self._sem = asyncio.Semaphore(max_connections)

    async def start(self) -> None:
        if self._session is not None:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._limit), timeout=self._timeout
        )
        self._client = Client(self._sid, self._token, http_client=_NoRetryHttpClient(self._session))
        # The supported way to aim the generated client elsewhere: the Api domain's base URL attribute,
        # read by Domain.absolute_url for every request (paths and auth stay the SDK's own).
        self._client.api.base_url = self._api_base

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    def status_callback(self, delivery_id: str) -> str | None:
        if self._callback_base is None:
            return None
        return f"{self._callback_base}{STATUS_PATH}?d={quote(delivery_id, safe='')}"

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        if self._client is None:
            await self.start()
        results: list[SendResult | None] = [None] * len(batch)
        todo = iter(enumerate(batch))

        async def worker() -> None:  # a few workers, not a task per message: cheaper for big batches
            for i, o in todo:
                results[i] = await self._send_one(o)

        await asyncio.gather(*(worker() for _ in range(min(self._limit, len(batch)))))
        return [r for r in results if r is not None]

    async def _send_one(self, o: Outgoing) -> SendResult:
        def fail(code: str, reason: str, **kw: Any) -> SendResult:
            return SendResult(o.delivery_id, ok=False, code=code, reason=reason, **kw)

        if not is_e164(o.recipient):
            return fail("invalid_number", f"not an E.164 phone number: {o.recipient!r}")
        text = sms_text(o.body)
        if text is None:
            return fail("bad_body", "SMS body has no text")
        left = math.floor(o.expires_at - self._clock.now())
        if left < 1:
            return fail("expired", f"expired {-left} s before sending")
        n_segments = segments(text)
        kwargs: dict[str, Any] = {
            "to": o.recipient,
            "body": text,
            "validity_period": min(left, MAX_VALIDITY_S),
        }
        if self._from:
            kwargs["from_"] = self._from
        if self._mss:
            kwargs["messaging_service_sid"] = self._mss
        callback = self.status_callback(o.delivery_id)
        if callback:
            kwargs["status_callback"] = callback
        started = self._wall()
        r = await self._create(o.delivery_id, kwargs)
        if r.code == "ambiguous":
            return await self._resolve(o, text, started, r.reason or "ambiguous", n_segments)
        if r.ok:
            return SendResult(o.delivery_id, ok=True, provider_ref=r.provider_ref, segments=n_segments)
        return r

    async def _create(self, delivery_id: str, kwargs: dict[str, Any]) -> SendResult:
        """One POST; the error classified as retryable, ambiguous or final (`provider_ref` on success)."""

        def fail(code: str, reason: str, **kw: Any) -> SendResult:
            return SendResult(delivery_id, ok=False, code=code, reason=reason, **kw)

        seen = _Seen()
        _SEEN.set(seen)
        assert self._client is not None
        try:
            async with self._sem:
                msg = await self._client.messages.create_async(**kwargs)
        except TwilioRestException as e:
            return _from_error(delivery_id, e, seen.headers or {})
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            # No connection, so no request: safe to send again (here or at the other provider).
            return fail("connect_failed", f"could not connect: {e!r}", retryable=True, provider_fault=True)
        except (TimeoutError, aiohttp.ClientError) as e:
            return fail("ambiguous", f"ambiguous: request sent, no answer ({type(e).__name__}: {e})")
        except ValueError as e:  # the SDK could not parse a 2xx body: the message was most likely created
            return fail("ambiguous", f"ambiguous: unreadable success response ({e})")
        return SendResult(delivery_id, ok=True, provider_ref=msg.sid)

    async def _resolve(self, o: Outgoing, text: str, started: float, why: str, n_segments: int) -> SendResult:
        """Was the ambiguous message created? The newest messages to the number, matched on the body and
        created since shortly before the attempt: any such message means the person has this text."""
        why = why.removeprefix("ambiguous: ")
        assert self._client is not None
        try:
            async with self._sem:
                msgs = await self._client.messages.list_async(
                    to=o.recipient, limit=LOOKUP_PAGE, page_size=LOOKUP_PAGE
                )
        except (TwilioException, TimeoutError, aiohttp.ClientError, ValueError) as e:  # incl. a non-200 page
            return ambiguous.unresolved(o.delivery_id, why, f"{type(e).__name__}: {e}")
        since = started - self._skew
        for m in msgs:
            created = m.date_created
            if m.body == text and created is not None and created.timestamp() >= since:
                return ambiguous.found(o.delivery_id, m.sid, f"{why}; Twilio has {m.sid}", n_segments)
        return ambiguous.not_found(o.delivery_id, why)


def _from_error(delivery_id: str, e: TwilioRestException, headers: dict[str, str]) -> SendResult:
    code = int(e.code) if isinstance(e.code, int | str) and str(e.code).isdigit() else e.status
    detail = f"twilio {e.status}/{code}: {e.msg}"
    if e.status == 429 or code == 20429:
        return SendResult(
            delivery_id,
            ok=False,
            retryable=True,
            code="rate_limited",
            reason=detail,
            retry_after_s=_retry_after(headers),
        )
    if e.status >= 500:  # a 5xx to a create does not say nothing was created (nor do gateways' 502/504)
        return SendResult(delivery_id, ok=False, code="ambiguous", reason=f"ambiguous: {detail}")
    label, provider_fault = _FINAL.get(code, ("rejected", False))
    return SendResult(
        delivery_id, ok=False, code=label, reason=detail, provider_fault=provider_fault or e.status == 401
    )


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP-date: rare from APIs; the backoff covers it
        return None
