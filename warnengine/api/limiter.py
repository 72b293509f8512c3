"""Failed logins counted in a sliding window (429 over the limit), per user name and per client address."""

from __future__ import annotations

import time
from collections import deque


class LoginLimiter:
    """Failed logins per user name and per client address in a sliding window; over a limit → 429.

    In memory: one API process serves a county's console. Two limits, so that neither guessing many
    passwords for one user nor spraying one password over many users from one address gets far — and so
    that one user's mistakes never lock out the others behind the same address (a county office, a TLS
    proxy): the per-user limit is small (`api_login_max_failures`), the per-address one much larger
    (`api_login_max_failures_per_address`). A success resets the user's count, never the address's.
    """

    def __init__(self, max_failures: int, window_s: float, max_per_address: int | None = None) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address if max_per_address is not None else 10 * max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def _keys(self, user: str, address: str) -> list[tuple[str, int]]:
        return [(f"user:{user}", self.max_failures), (f"addr:{address}", self.max_per_address)]

    def retry_after(self, user: str, address: str) -> float | None:
        """Seconds to wait when the user or the address is over its limit, else None."""
        now = time.monotonic()
        waits = []
        for key, limit in self._keys(user, address):
            q = self._recent(key, now)
            if len(q) >= limit:
                waits.append(q[-limit] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        for key, _ in self._keys(user, address):
            self._recent(key, now).append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray: forget idle keys
            for k in [k for k, q in self._failures.items() if not self._recent(k, now)]:
                del self._failures[k]

    def succeeded(self, user: str) -> None:
        self._failures.pop(f"user:{user}", None)  # the user's own count resets; the address's does not
