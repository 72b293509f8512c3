"""What the reconciler reads and writes: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from warnengine.clock import Clock
from warnengine.model import HazardWarning


class ReconcileStore(Protocol):
    @property
    def clock(self) -> Clock: ...

    async def stale_warnings(self, before: float, limit: int = ...) -> list[HazardWarning]: ...

    async def touch_warnings(self, keys: list[tuple[str, int]]) -> None: ...

    async def unfinished_villages(
        self,
        before: float,
        resend_after: float,
        max_attempts: int,
        limit: int = ...,
        people_channels: Sequence[str] = ...,
    ) -> list[tuple[str, int, str]]: ...

    async def touch_villages(self, keys: list[tuple[str, int, str]]) -> None: ...

    async def expire_deliveries(self) -> int: ...

    async def unreached(self) -> list[tuple[str, str, int, float]]: ...

    async def households_in_force(self) -> list[tuple[str, str, int]]: ...
