"""Households of a warning still open (not reached), with what is known about why: the live page's list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase

OPEN_VISIT = ("open", "accepted")


class ReachQueries(StoreBase):
    async def open_households(self, warning_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Households targeted by the warning and not reached, vulnerable first, then by village.

        Each row: household_id, village_code, vulnerable, state, reason, and the open visit task's
        assignee and state when a door-to-door visit covers the household.
        """
        wh, vh, vt = t.warning_households.c, t.visit_households.c, t.visit_tasks.c
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(wh.household_id, wh.village_code, wh.vulnerable, wh.state, wh.reason)
                    .where(wh.warning_id == warning_id, wh.state != "reached")
                    .order_by(wh.vulnerable.desc(), wh.village_code, wh.household_id)
                    .limit(limit)
                )
            ).all()
            ids = [r.household_id for r in rows]
            visits: dict[str, tuple[str | None, str]] = {}
            if ids:
                res = await conn.execute(
                    select(vh.household_id, vt.assignee, vt.state)
                    .join(t.visit_tasks, vt.task_id == vh.task_id)
                    .where(vt.warning_id == warning_id, vt.state.in_(OPEN_VISIT), vh.household_id.in_(ids))
                )
                visits = {h: (a, s) for h, a, s in res}
        out = []
        for r in rows:
            assignee, visit_state = visits.get(r.household_id, (None, None))
            out.append(
                {
                    "household_id": r.household_id,
                    "village_code": r.village_code,
                    "vulnerable": bool(r.vulnerable),
                    "state": r.state,
                    "reason": r.reason,
                    "visit_assignee": assignee,
                    "visit_state": visit_state,
                }
            )
        return out
