"""What the dispatch stages (terminals and people) read and write: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from warnengine.clock import Clock
from warnengine.model.records import DueDelivery, VillageTarget


class DispatchStore(Protocol):
    @property
    def clock(self) -> Clock: ...

    async def live_versions(self, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]: ...

    async def devices_by_village(self, village_codes: Sequence[str]) -> dict[str, list[str]]: ...

    async def claim_due(
        self,
        targets: Sequence[VillageTarget],
        resend_after: float,
        max_attempts: int,
        states: Sequence[str] = ...,
        claim: bool = ...,
    ) -> list[DueDelivery]: ...

    async def claim_new(self, targets: Sequence[VillageTarget]) -> list[DueDelivery]: ...

    async def claim(
        self, ids: Sequence[str], states: Sequence[str], resend_after: float, max_attempts: int
    ) -> set[str]: ...

    async def finish_dispatch(
        self,
        sent: list[str],
        failures: dict[str, str],
        villages: Sequence[tuple[str, int, str]],
        final: dict[str, str] | None = ...,
        ambiguous: dict[str, str] | None = ...,
        refs: dict[str, str] | None = ...,
    ) -> None: ...

    async def accepted_at(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], float]: ...
