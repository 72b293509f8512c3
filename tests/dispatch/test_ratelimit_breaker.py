"""Token bucket and circuit breaker on a manual clock: exact, instant, no wall-clock waiting."""

from __future__ import annotations

import asyncio

import pytest

from warnengine.clock import ManualClock
from warnengine.dispatch.breaker import BreakerState, CircuitBreaker
from warnengine.dispatch.ratelimit import TokenBucket


def manual() -> tuple[ManualClock, list[float]]:
    return ManualClock(0.0), []


@pytest.mark.parametrize(
    ("rate", "burst", "take"), [(10.0, 1.0, 1), (10.0, 5.0, 3), (3.3, 2.0, 7), (500.0, 50.0, 64)]
)
async def test_grants_never_exceed_burst_plus_rate_times_interval(
    rate: float, burst: float, take: int
) -> None:
    clock = ManualClock(0.0)

    async def sleep(s: float) -> None:
        clock.advance(s)

    bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep)
    grants: list[tuple[float, int]] = []

    async def taker() -> None:
        for _ in range(40):
            k = await bucket.take(take)
            grants.append((clock.now(), k))

    await asyncio.gather(taker(), taker(), taker())
    total = sum(k for _, k in grants)
    assert all(1 <= k <= take for _, k in grants)
    for i in range(len(grants)):
        n = 0
        for j in range(i, len(grants)):
            n += grants[j][1]
            assert n <= burst + rate * (grants[j][0] - grants[i][0]) + 1e-6, (i, j)
    # ...and it is not slower than it needs to be: the whole run took (total - burst) / rate.
    assert clock.now() == pytest.approx((total - burst) / rate, rel=1e-6, abs=1e-6)


async def test_take_zero_and_bad_settings() -> None:
    assert await TokenBucket(1.0).take(0) == 0
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1.0, burst=0.5)


def state(b: CircuitBreaker) -> BreakerState:
    return b.state  # a call, so the type checker does not carry one assert's narrowing to the next


def test_breaker_opens_probes_and_closes() -> None:
    clock = ManualClock(0.0)
    b = CircuitBreaker(failures=3, reset_after_s=10, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record(False)
    b.record(True)  # a success resets the count
    for _ in range(3):
        assert b.allow()
        b.record(False)
    assert state(b) is BreakerState.OPEN and not b.allow()
    clock.advance(9.9)
    assert not b.allow()
    clock.advance(0.2)
    assert b.allow() and b.probing and state(b) is BreakerState.HALF_OPEN
    assert not b.allow()  # one probe at a time
    b.record(False)  # the probe failed: open again, for another reset period
    assert state(b) is BreakerState.OPEN and not b.allow()
    clock.advance(10)
    assert b.allow()
    b.record(True)
    assert state(b) is BreakerState.CLOSED and b.allow() and b.allow()
