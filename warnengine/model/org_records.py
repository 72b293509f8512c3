"""Rows the stages exchange with the store about organisations (issue 17)."""

from __future__ import annotations

from typing import NamedTuple


class WarningOrg(NamedTuple):
    """One organisation planned for a warning, as the ladder, live status and the closure report read it."""

    org_id: str
    village_code: str
    cell_code: str
    kind: str
    name: str
    headcount: int
    responsible: tuple[str, ...]
    state: str  # targeted | reached
    reached_at: float | None = None
    reached_by: str | None = None
    note: str | None = None
    last_step: int = 0
    escalated_to: str | None = None
