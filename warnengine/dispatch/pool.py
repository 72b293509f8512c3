"""The dispatch layer for people channels (SMS, WeChat, app): one `ProviderPool` per channel kind.

A pool holds the channel's providers in failover order (primary first). `send(batch)` returns exactly one
`SendResult` per input, in order, and guarantees that within the call each delivery id reaches a provider at
most once as far as anyone can tell:

- a delivery is sent again (same provider, tenacity: exponential backoff with jitter, bounded attempts,
  Retry-After honoured) only when the adapter said the failure is `retryable`, i.e. the provider certainly
  did not create the message (connection refused, 429, a 5xx the provider itself answered);
- a delivery moves to the next provider when its retries run out, when the failure was the provider's
  (`provider_fault`: bad credentials, sender not allowed), or when the provider's circuit is open;
- an ambiguous outcome (sent, then no usable answer) is settled by the adapter with the provider's message
  lookup (channels/ambiguous.py): found is a success, not found is retryable like any failure before
  creating; unresolved stays `ok=False, retryable=False, code="ambiguous"`: final here, never sent again
  nor failed over (another provider would text the person a second time). Each is counted in
  `warnengine_delivery_ambiguous_total` and logged with its delivery id.

The caller records the attempt in the database before calling (design decision 2), so a crash mid-call
is bounded by the caller's own resend policy, not by this layer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential, wait_random

from channels.base import ChannelAdapter, Outgoing, SendResult
from channels.config import RetryConfig
from warnengine.clock import Clock, SystemClock
from warnengine.dispatch.breaker import BreakerState, CircuitBreaker
from warnengine.dispatch.ratelimit import Sleep, TokenBucket
from warnengine.model import Channel
from warnengine.obs import metrics

log = structlog.get_logger("warnengine.dispatch.sender")  # the name its log lines have always had


@dataclass
class Provider:
    """One adapter in a pool, with its account's token bucket (None: unlimited) and its breaker."""

    adapter: ChannelAdapter
    bucket: TokenBucket | None
    breaker: CircuitBreaker

    @property
    def name(self) -> str:
        return self.adapter.name


class _RetryLater(Exception):
    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__("retryable failures left")
        self.retry_after_s = retry_after_s


def _healthy(results: Sequence[SendResult]) -> bool:
    """Did the provider work? Any success or any recipient-level answer says so."""
    return any(r.ok or (not r.retryable and not r.provider_fault and r.code != "ambiguous") for r in results)


def _outcome(r: SendResult) -> str:
    if r.ok:
        return "ok"
    if r.code == "ambiguous":
        return "ambiguous"
    return "retryable" if (r.retryable or r.provider_fault) else "failed"


class ProviderPool:
    """Rate limits, retries, circuit breaking and failover for one channel kind's providers."""

    def __init__(
        self,
        kind: Channel,
        providers: Sequence[Provider],
        *,
        retry: RetryConfig | None = None,
        max_inflight_batches: int = 64,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not providers:
            raise ValueError("a pool needs at least one provider")
        self.kind = kind
        self.providers = list(providers)
        self.retry = retry or RetryConfig()
        self._clock = clock or SystemClock()
        self._sleep = sleep or asyncio.sleep
        self._inflight = asyncio.Semaphore(max_inflight_batches)
        # Exponential (initial × 2^n, capped) plus up to jitter_s of random: tenacity's full-jitter form.
        self._backoff = wait_exponential(multiplier=self.retry.initial_s, max=self.retry.max_s) + wait_random(
            0, self.retry.jitter_s
        )
        for p in self.providers:
            metrics.CHANNEL_BREAKER.labels(p.name).set(p.breaker.state)

    async def start(self) -> None:
        for p in self.providers:
            await p.adapter.start()

    async def stop(self) -> None:
        for p in self.providers:
            await p.adapter.stop()

    async def send(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """Send every delivery at most once; one result per input, in input order."""
        results: list[SendResult | None] = [None] * len(batch)
        first: dict[str, int] = {}
        todo: list[int] = []
        now = self._clock.now()
        for i, o in enumerate(batch):
            if o.delivery_id in first:  # the same delivery twice in one call: send once, answer twice
                continue
            first[o.delivery_id] = i
            if o.expires_at <= now:
                results[i] = SendResult(
                    o.delivery_id, ok=False, code="expired", reason="expired before sending"
                )
            else:
                todo.append(i)
        last: dict[int, SendResult] = {}
        for n, provider in enumerate(self.providers):
            if not todo:
                break
            todo = await self._through(provider, batch, todo, results, last)
            if todo and n + 1 < len(self.providers):
                metrics.PROVIDER_FAILOVERS.labels(self.kind.value, provider.name).inc()
                log.warning(
                    "provider_failover",
                    channel=self.kind.value,
                    provider=provider.name,
                    to=self.providers[n + 1].name,
                    deliveries=len(todo),
                )
        for i in todo:  # every provider failed them: report the last failure, still retryable later
            results[i] = last.get(i) or SendResult(
                batch[i].delivery_id,
                ok=False,
                retryable=True,
                code="circuit_open",
                reason="no provider available: every circuit is open",
            )
        out: list[SendResult] = []
        for o in batch:
            r = results[first[o.delivery_id]]
            assert r is not None
            out.append(r)
        return out

    async def _through(
        self,
        p: Provider,
        batch: Sequence[Outgoing],
        todo: list[int],
        results: list[SendResult | None],
        last: dict[int, SendResult],
    ) -> list[int]:
        """Send `todo` through one provider with retries; returns the indices to hand to the next one.
        A delivery with no address of this provider's token kind passes it by (Outgoing.addresses)."""
        kind = getattr(p.adapter, "token_kind", None)
        run = _Run([i for i in todo if _addressable(batch[i], kind)])
        run.carry.extend(i for i in todo if not _addressable(batch[i], kind))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_RetryLater),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for tried in retrying:
                with tried:
                    await self._attempt(p, batch, run, results, last)
        except _RetryLater:
            run.carry.extend(run.pending)
        return sorted(run.carry)

    async def _attempt(
        self,
        p: Provider,
        batch: Sequence[Outgoing],
        run: _Run,
        results: list[SendResult | None],
        last: dict[int, SendResult],
    ) -> None:
        """One try of `run.pending` at this provider; raises _RetryLater while retryable failures are left."""
        run.pending = _unexpired(batch, run.pending, results, self._clock.now())
        if not run.pending:
            return
        if any(i in last for i in run.pending):
            for i in run.pending:
                metrics.CHANNEL_RETRIES.labels(p.name, last[i].code or "unknown").inc()
        answered, skipped = await self._send_all(p, batch, run.pending)
        run.carry.extend(skipped)
        run.pending = _settle(answered, results, last, run.carry)
        if run.pending:
            waits = [w for i in run.pending if (w := last[i].retry_after_s) is not None]
            if waits and max(waits) > self.retry.max_retry_after_s:
                run.carry.extend(run.pending)  # asked to wait too long for a warning: try the next provider
                run.pending = []
                return
            raise _RetryLater(max(waits) if waits else None)

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after_s if isinstance(exc, _RetryLater) else None
        return max(backoff, after or 0.0)  # after <= max_retry_after_s: longer asks were failed over

    async def _send_all(
        self, p: Provider, batch: Sequence[Outgoing], idx: list[int]
    ) -> tuple[dict[int, SendResult], list[int]]:
        """One attempt: chunks of the adapter's batch size, paced by the bucket, many in flight.

        Returns the answers and the indices never sent because the circuit is (or went) open.
        """
        answered: dict[int, SendResult] = {}
        if not p.breaker.allow():
            return answered, idx
        rest = idx
        if p.breaker.probing:  # half-open: one delivery tests the provider before the rest follow
            answered.update(await self._call(p, batch, rest[:1]))
            rest = rest[1:]
            if p.breaker.state is not BreakerState.CLOSED or not rest:
                return answered, rest
        tasks: list[asyncio.Task[dict[int, SendResult]]] = []
        skipped: list[int] = []
        size = max(1, p.adapter.batch_size)
        while rest:
            if p.breaker.state is BreakerState.OPEN:
                skipped = rest
                break
            n = min(size, len(rest))
            # A slot first, then the tokens: a token taken is sent at once, so a slow provider cannot
            # make granted messages pile up and leave later in a burst above the rate.
            await self._inflight.acquire()
            if p.bucket is not None:
                t0 = time.perf_counter()
                try:
                    n = await p.bucket.take(n)
                except BaseException:
                    self._inflight.release()
                    raise
                metrics.RATE_LIMIT_WAIT_SECONDS.labels(self.kind.value, p.name).observe(
                    time.perf_counter() - t0
                )
            chunk, rest = rest[:n], rest[n:]
            tasks.append(asyncio.create_task(self._call(p, batch, chunk, release=True)))
        for got in await asyncio.gather(*tasks):
            answered.update(got)
        return answered, skipped

    async def _call(
        self, p: Provider, batch: Sequence[Outgoing], idx: list[int], *, release: bool = False
    ) -> dict[int, SendResult]:
        kind = getattr(p.adapter, "token_kind", None)
        chunk = [_addressed(batch[i], kind) for i in idx]
        t0 = time.perf_counter()
        try:
            got = await p.adapter.send_batch(chunk)
        except Exception as e:  # adapters must not raise; if one does, nobody knows what went out
            log.error("adapter_raised", provider=p.name, error=repr(e))
            got = [_ambiguous(o, f"adapter raised {type(e).__name__}: {e}") for o in chunk]
        finally:
            if release:
                self._inflight.release()
        metrics.CHANNEL_SEND_SECONDS.labels(p.name).observe(time.perf_counter() - t0)
        metrics.PROVIDER_SECONDS.labels(self.kind.value, p.name).observe(time.perf_counter() - t0)
        by_id = {r.delivery_id: r for r in got}
        answers: dict[int, SendResult] = {}
        for i, o in zip(idx, chunk, strict=True):
            r = by_id.get(o.delivery_id) or _ambiguous(o, "adapter returned no result for it")
            answers[i] = r
            metrics.CHANNEL_SENDS.labels(p.name, _outcome(r)).inc()
            if r.lookup is not None or r.code == "ambiguous":
                self._count_ambiguous(p, r)
            if r.ok and r.segments:
                metrics.SMS_SEGMENTS.labels(p.name).inc(r.segments)
        p.breaker.record(_healthy(list(answers.values())))
        metrics.CHANNEL_BREAKER.labels(p.name).set(p.breaker.state)
        return answers

    def _count_ambiguous(self, p: Provider, r: SendResult) -> None:
        # An adapter with no lookup reports plain `ambiguous`: as unresolved as a failed lookup.
        outcome = r.lookup or "unresolved"
        metrics.DELIVERY_AMBIGUOUS.labels(self.kind.value, p.name, outcome).inc()
        log.warning(
            "delivery_ambiguous",
            delivery_id=r.delivery_id,
            channel=self.kind.value,
            provider=p.name,
            outcome=outcome,
            provider_ref=r.provider_ref,
            reason=r.reason,
        )


@dataclass
class _Run:
    """One provider's turn at a batch: the indices still to try there, and those for the next provider."""

    pending: list[int]
    carry: list[int] = field(default_factory=list)


def _unexpired(
    batch: Sequence[Outgoing], idx: list[int], results: list[SendResult | None], now: float
) -> list[int]:
    """Those of `idx` still to send: the expired get their final result."""
    for i in idx:
        if batch[i].expires_at <= now:
            results[i] = SendResult(
                batch[i].delivery_id, ok=False, code="expired", reason="expired while retrying"
            )
    return [i for i in idx if results[i] is None]


def _settle(
    answered: dict[int, SendResult],
    results: list[SendResult | None],
    last: dict[int, SendResult],
    carry: list[int],
) -> list[int]:
    """One attempt's answers: final ones into `results`, the provider's faults onto `carry` (the next
    provider's); returns those to retry here."""
    retry: list[int] = []
    for i, r in answered.items():
        last[i] = r
        if r.ok or (not r.retryable and not r.provider_fault):
            results[i] = r  # sent, or final: the recipient's error or an ambiguous outcome
        elif r.retryable:
            retry.append(i)
        else:
            carry.append(i)
    return retry


def _addressable(o: Outgoing, kind: str | None) -> bool:
    return o.addresses is None or kind is None or kind in o.addresses


def _addressed(o: Outgoing, kind: str | None) -> Outgoing:
    """`o` with this provider's own address of the person (JPush id or FCM token) as its recipient."""
    if o.addresses is None or kind is None or o.addresses.get(kind, o.recipient) == o.recipient:
        return o
    return dataclasses.replace(o, recipient=o.addresses[kind])


def _ambiguous(o: Outgoing, why: str) -> SendResult:
    return SendResult(o.delivery_id, ok=False, code="ambiguous", reason=f"ambiguous: {why}")
