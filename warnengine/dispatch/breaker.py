"""A per-provider circuit breaker: stop calling a provider that keeps failing, probe it now and then."""

from __future__ import annotations

from enum import IntEnum

from warnengine.clock import Clock, SystemClock


class BreakerState(IntEnum):  # the values are the gauge's
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Closed → open after `failures` failed calls in a row; after `reset_after_s` one probe call is let
    through (half-open): it closes the breaker on success and re-opens it on failure.

    A "failed call" is one where the provider itself failed (no answer, 5xx, 429, bad credentials) for every
    delivery in it; a recipient's error (invalid number) is the provider working, not failing.
    """

    def __init__(self, failures: int = 5, reset_after_s: float = 30.0, *, clock: Clock | None = None) -> None:
        self.threshold = failures
        self.reset_after_s = reset_after_s
        self._clock = clock or SystemClock()
        self.state = BreakerState.CLOSED
        self._failed = 0
        self._opened_at = 0.0
        self._probing = False

    def allow(self) -> bool:
        """May a call start now? In half-open only one (the probe) may be in flight."""
        if self.state is BreakerState.OPEN:
            if self._clock.now() - self._opened_at < self.reset_after_s:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    @property
    def probing(self) -> bool:
        return self.state is BreakerState.HALF_OPEN and self._probing

    def record(self, ok: bool) -> None:
        if ok:
            self.state, self._failed, self._probing = BreakerState.CLOSED, 0, False
            return
        self._failed += 1
        if self.state is BreakerState.HALF_OPEN or self._failed >= self.threshold:
            self.state, self._opened_at, self._probing = BreakerState.OPEN, self._clock.now(), False
