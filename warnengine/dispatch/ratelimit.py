"""An async token bucket on the engine's clock: at most `burst + rate × t` grants in any interval t."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from warnengine.clock import Clock, SystemClock

Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """One provider account's (or sender's) send rate.

    `take(n)` waits for at least one token and grants as many as are there, up to n, so a big batch
    flows out paced instead of waiting for a bucket that may be smaller than the batch. Waiters are
    served in arrival order (one lock), so a steady stream of small takes cannot starve a caller.
    The clock and sleep are injected (design decision 6): tests pass a manual clock whose sleep
    advances it; production passes the system clock and asyncio.sleep.
    """

    def __init__(
        self, rate_per_s: float, burst: float = 1.0, *, clock: Clock | None = None, sleep: Sleep | None = None
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = float(burst)
        self._clock = clock or SystemClock()
        self._sleep = sleep or asyncio.sleep
        self._tokens = self.burst
        self._at = self._clock.now()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.now()
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = max(self._at, now)

    async def take(self, n: int = 1) -> int:
        """Wait until a token is free, then take up to `n`; returns how many were granted (>= 1)."""
        if n < 1:
            return 0
        async with self._lock:
            while True:
                self._refill()
                granted = min(n, int(self._tokens + 1e-9))  # float dust must not cost a whole wait
                if granted >= 1:
                    self._tokens -= granted
                    return granted
                await self._sleep((1.0 - self._tokens) / self.rate)
