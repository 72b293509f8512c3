"""What the plan stage reads and writes: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from warnengine.clock import Clock
from warnengine.model import HazardWarning


class PlanStore(Protocol):
    @property
    def clock(self) -> Clock: ...

    @property
    def plan_slice_rows(self) -> int: ...

    async def villages_reached(self, warning_id: str, before_version: int) -> list[str]: ...

    async def save_plan(
        self, deliveries: Sequence[tuple[Any, ...]], households: Sequence[tuple[Any, ...]]
    ) -> None: ...

    async def flag_untargeted(self, w: HazardWarning) -> bool: ...

    async def dead_letter(
        self, stage: str, reason: str, detail: str, payload: bytes | str, source: str | None, key: str | None
    ) -> int: ...

    async def set_resolved(self, w: HazardWarning, villages: list[str]) -> bool: ...

    async def people_told(self, warning_id: str, before_version: int) -> list[tuple[str, str, str, str]]: ...

    async def org_recipients(
        self, warning_id: str, before_version: int
    ) -> list[tuple[str, str, str, str, str]]: ...

    async def save_org_plan(
        self, orgs: Sequence[tuple[Any, ...]], deliveries: Sequence[tuple[str, str, str]]
    ) -> None: ...
