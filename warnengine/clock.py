"""The one clock (design decision 6): deadlines, expiry and timers read this, never the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ScaledClock:
    """Runs `speed` times faster than the wall clock from `start`: simulations run hours in minutes."""

    def __init__(self, speed: float, start: float | None = None, wall_origin: float | None = None) -> None:
        self._speed = speed
        self._origin_wall = time.time() if wall_origin is None else wall_origin
        self._origin = self._origin_wall if start is None else start

    def now(self) -> float:
        return self._origin + (time.time() - self._origin_wall) * self._speed


def clock_for(speed: float, epoch: float | None = None) -> Clock:
    """The engine clock of a process: the wall clock, or `speed` times faster from `epoch` (a wall time).
    Processes of one stack given the same epoch agree on the time (workers, API, terminals)."""
    if speed == 1.0:
        return SystemClock()
    return ScaledClock(speed, start=epoch, wall_origin=epoch)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._t = start

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += seconds


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
