"""Run one event's work so that no exception ever acks it away silently.

Bad input → dead letter at once. Anything else → retried with backoff; if it still fails, dead letter
with the error, and the database's unfinished state lets the reconciler finish it later. Writing the
dead letter's database row is retried until the database takes it: an event is never acked without a
record. Its announcement on the dead-letter topic is best-effort (`best_effort_send`): a transient error
is retried a few times, a non-retryable one (a record over the producer's size limit) is final at once,
counted and logged once. Retrying the whole dead letter on a produce error once wrote one row 39 times
and held the line forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog
from aiokafka.errors import KafkaError, KafkaTimeoutError
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from warnengine.errors import BadInput
from warnengine.obs import metrics

log = structlog.get_logger("warnengine.guard")

FIRST_BACKOFF_S = 0.2
SEND_ATTEMPTS = 3
DeadLetterFn = Callable[[str, str, str, bytes, str | None, str | None], Awaitable[None]]


def _is_bad_input(e: BaseException) -> bool:
    return isinstance(e, BadInput | ValidationError)  # FeedError is a BadInput


async def guarded(
    stage: str,
    work: Callable[[], Awaitable[None]],
    payload: bytes,
    key: str | None,
    source: str | None,
    dead_letter: DeadLetterFn,
    attempts: int = 4,
) -> bool:
    """True when the work succeeded; False when the event went to the dead letters."""

    async def attempt_once() -> None:
        try:
            await work()
        except Exception as e:
            if not _is_bad_input(e):
                metrics.STAGE_ERRORS.labels(stage).inc()
                log.warning("stage_error", stage=stage, error=repr(e), key=key)
            raise

    try:
        try:  # the first attempt without the retry machinery: it runs per event, and nearly always works
            await attempt_once()
            return True
        except Exception as e:
            if _is_bad_input(e) or attempts <= 1:
                raise
        await asyncio.sleep(FIRST_BACKOFF_S)
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: not _is_bad_input(e)),
            stop=stop_after_attempt(attempts - 1),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            reraise=True,
        ):
            with attempt:
                await attempt_once()
        return True
    except BadInput as e:  # FeedError included
        reason, detail = e.reason, e.detail
    except ValidationError as e:
        reason, detail = "bad_record", _one_line(str(e))
    except Exception as e:
        reason, detail = "internal_error", _one_line(repr(e))
    await _dead_letter_until_recorded(stage, reason, detail, payload, source, key, dead_letter)
    return False


async def _dead_letter_until_recorded(
    stage: str,
    reason: str,
    detail: str,
    payload: bytes,
    source: str | None,
    key: str | None,
    fn: DeadLetterFn,
) -> None:
    metrics.DEAD_LETTERS.labels(stage, reason).inc()
    log.warning("dead_letter", stage=stage, reason=reason, detail=detail, source=source, key=key)
    delay = 0.5
    while True:
        try:
            await fn(stage, reason, detail, payload, source, key)
            return
        except Exception as e:  # the database is down: hold the event rather than lose it
            log.error("dead_letter_write_failed", stage=stage, error=repr(e), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class Sender(Protocol):
    async def send(self, *, key: bytes | None, value: bytes) -> Awaitable[object]: ...


def _retryable(e: BaseException) -> bool:
    """aiokafka marks transient errors `retriable`; a record too large, a bad config, … never will be."""
    return isinstance(e, KafkaTimeoutError) or (
        isinstance(e, KafkaError) and bool(getattr(e, "retriable", False))
    )


async def best_effort_send(topic: Sender, name: str, key: bytes | None, value: bytes) -> bool:
    """Send and await the broker's answer; True when it took the record. Never raises (but cancels):
    a transient error is retried `SEND_ATTEMPTS` times, any other error is final at the first."""
    delay = 0.2
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            fut = await topic.send(key=key, value=value)
            await fut
            return True
        except Exception as e:
            if _retryable(e) and attempt < SEND_ATTEMPTS:
                await asyncio.sleep(delay)
                delay *= 2
                continue
            metrics.PRODUCE_FAILURES.labels(name, type(e).__name__).inc()
            log.error("produce_failed", topic=name, error=_one_line(repr(e)), bytes=len(value))
            return False
    return False  # pragma: no cover - the loop always returns


def _one_line(s: str, limit: int = 500) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
