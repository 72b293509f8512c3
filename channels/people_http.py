"""Shared pieces of the HTTP adapters that reach people (WeChat, WeCom, JPush, FCM).

The message body for people channels is `{"title", "text", "warning_id", "severity", "hazard",
"expires_at"}`; `Message.of` reads it tolerantly so one malformed body fails one delivery, not the batch.

Retry safety follows the SMS adapters (channels/sms_twilio.py): a failure is `retryable` only when the
provider cannot have acted on the request (no connection, 429, an explicit "busy, try again"); a timeout
after the request was written is `code="ambiguous"` and final unless the provider de-duplicates.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from channels.base import Outgoing, SendResult
from warnengine.obs import metrics

T = TypeVar("T")

SEVERITY_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    warning_id: str
    severity: str
    hazard: str

    @classmethod
    def of(cls, o: Outgoing) -> Message | None:
        """The people-channel message of one delivery, or None when the body has no usable text."""
        b = o.body if isinstance(o.body, dict) else {}
        title, text = b.get("title"), b.get("text")
        if not isinstance(text, str) or not text.strip():
            return None
        return cls(
            title=title if isinstance(title, str) and title.strip() else text[:20],
            text=text,
            warning_id=str(b.get("warning_id", "")),
            severity=str(b.get("severity", "")),
            hazard=str(b.get("hazard", "")),
        )

    @property
    def severity_zh(self) -> str:
        return SEVERITY_ZH.get(self.severity, self.severity)


def truncate_utf8(s: str, max_bytes: int, ellipsis: str = "…") -> str:
    """`s` cut to at most `max_bytes` UTF-8 bytes on a character boundary (providers count bytes)."""
    raw = s.encode()
    if len(raw) <= max_bytes:
        return s
    room = max_bytes - len(ellipsis.encode())
    return raw[: max(0, room)].decode(errors="ignore") + ellipsis


def fail(o: Outgoing, code: str, reason: str, **kw: Any) -> SendResult:
    return SendResult(o.delivery_id, ok=False, code=code, reason=reason, **kw)


def retry_after(headers: Any) -> float | None:
    """Retry-After in seconds (delta form); HTTP-dates are rare from these APIs and left to the backoff."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def transport_failure(o: Outgoing, e: BaseException, *, dedupe: bool = False) -> SendResult:
    """A request that got no HTTP answer. Never connected: safe to retry. Sent but unanswered: ambiguous,
    retried only when the provider drops a repeated message itself (`dedupe`)."""
    if isinstance(e, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return fail(o, "connect_failed", f"could not connect: {e!r}", retryable=True, provider_fault=True)
    detail = f"request sent, no answer ({type(e).__name__}: {e})"
    return fail(o, "ambiguous", f"ambiguous: {detail}", retryable=dedupe)


def http_status_failure(o: Outgoing, status: int, headers: Any) -> SendResult | None:
    """The result for an HTTP status that says nothing was accepted, before looking at the body.

    429, 500 and 503 come from the provider itself refusing or failing: retry (after Retry-After). 502 and
    504 come from a gateway that may have passed the request on: ambiguous, final.
    """
    if status == 429:
        return fail(o, "rate_limited", "HTTP 429", retryable=True, retry_after_s=retry_after(headers))
    if status in (500, 503):
        return fail(
            o,
            "server_error",
            f"HTTP {status}",
            retryable=True,
            provider_fault=True,
            retry_after_s=retry_after(headers),
        )
    if status >= 500:
        return fail(o, "ambiguous", f"ambiguous: HTTP {status}")
    return None


async def read_json(resp: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """The response body as a JSON object, or None when it is not one (a proxy's HTML error page…)."""
    raw = await resp.read()
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def session(connect_timeout_s: float, read_timeout_s: float, limit: int) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(
        total=None, connect=connect_timeout_s, sock_connect=connect_timeout_s, sock_read=read_timeout_s
    )
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit), timeout=timeout)


class HttpAdapter:
    """What the HTTP adapters share: a pooled session, opened on start and closed on stop, and the token
    service when the adapter made its own (one shared by several adapters is closed by its owner)."""

    _timeouts: tuple[float, float]  # connect, read (seconds)
    _limit: int  # connections
    _http: aiohttp.ClientSession | None = None
    _own_tokens: bool = False
    tokens: Any = None

    async def start(self) -> None:
        if self._http is None:
            self._http = session(*self._timeouts, limit=self._limit)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._own_tokens:
            await self.tokens.close()


async def bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs with at most `limit` in flight; results in input order."""
    sem = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with sem:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))


def record(channel: str, provider: str, results: Sequence[SendResult]) -> None:
    """Count failures by bounded code, so a dashboard shows why a provider refuses (not only that it did)."""
    for r in results:
        if not r.ok:
            metrics.CHANNEL_FAILURES.labels(channel, provider, r.code or "other").inc()
