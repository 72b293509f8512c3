"""Failed logins counted in a sliding window (429 over the limit)."""

from __future__ import annotations

import time
from collections import deque


class LoginLimiter:
    """Failed logins per user name and per address in a sliding window; over the limit → 429.

    In memory: one API process serves a county's console. Keyed both ways so that neither guessing many
    passwords for one user nor spraying one password over many users from one address gets far.
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, keys: list[str]) -> float | None:
        now = time.monotonic()
        waits = []
        for key in keys:
            q = self._recent(key, now)
            if len(q) >= self.max_failures:
                waits.append(q[0] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, keys: list[str]) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray: forget idle keys
            for k in [k for k, q in self._failures.items() if not self._recent(k, now)]:
                del self._failures[k]

    def succeeded(self, keys: list[str]) -> None:
        for key in keys[:1]:  # the user's own count resets; the address's does not
            self._failures.pop(key, None)
