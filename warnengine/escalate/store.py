"""What the escalation ladder reads and writes: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from warnengine.clock import Clock
from warnengine.model.duty import DutyBoard
from warnengine.model.records import DutyCall, LiveVersion, VisitTask


class EscalateStore(Protocol):
    @property
    def clock(self) -> Clock: ...

    async def live_for_escalation(self, now: float) -> list[LiveVersion]: ...

    async def reach_by_loudspeaker(self, warning_id: str, version: int, now: float) -> int: ...

    async def save_plan(
        self, deliveries: Sequence[tuple[Any, ...]], households: Sequence[tuple[Any, ...]]
    ) -> None: ...

    async def record_step(
        self, warning_id: str, version: int, step: int, action: str, households: int, now: float
    ) -> None: ...

    async def unanswered_staff(self, warning_id: str, version: int, sent_before: float) -> list[str]: ...

    async def record_staff_calls(
        self, warning_id: str, calls: Sequence[tuple[str, str | None]], now: float
    ) -> None: ...

    async def unreached_households(self, warning_id: str) -> list[tuple[str, str, str, bool]]: ...

    async def follow_ups(
        self, warning_id: str, empty_before: float
    ) -> list[tuple[str, str, str, bool, str]]: ...

    async def silent_staff(self, warning_id: str) -> set[str]: ...

    async def create_visit_tasks(self, tasks: Sequence[VisitTask], now: float) -> None: ...

    async def visit_tasks(self, warning_id: str, states: Sequence[str] = ...) -> list[VisitTask]: ...

    async def reassign_visits(self, moves: Sequence[tuple[str, str | None, int]], now: float) -> None: ...

    async def duty_board(self, at: float) -> DutyBoard: ...

    async def duty_calls(self, warning_id: str) -> list[DutyCall]: ...

    async def record_duty_calls(self, warning_id: str, calls: Sequence[DutyCall]) -> None: ...

    async def record_duty_retries(self, warning_id: str, calls: Sequence[tuple[str, str, float]]) -> None: ...

    async def answered(
        self, warning_id: str, person_ids: Sequence[str], min_step: int | None = None
    ) -> set[str]: ...

    # The loudspeaker fallback (escalate/fallback.py, db/store/links.py).
    async def village_speakers(self, warning_id: str, version: int) -> list[tuple[str, int, int, int]]: ...

    async def responsible_of(self, villages: Sequence[str]) -> dict[str, list[str]]: ...

    async def record_fallback(
        self,
        warning_id: str,
        version: int,
        village: str,
        reason: str,
        households: int,
        responsible: Sequence[str],
        now: float,
    ) -> None: ...
