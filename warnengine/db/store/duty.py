"""The duty roster (值班表) and the duty ladder's 叫应 calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import Level, Role, steps
from warnengine.model.duty import DutyBoard, Post, Shift
from warnengine.model.records import DutyCall

CALL_END = steps.CALL.end  # 叫应 steps are below (model/steps.py: the table of step numbers)


def _shift(r: Any) -> Shift:
    return Shift(r.cell_code, Role(r.role), Post(r.post), r.person_id, float(r.starts_at), float(r.ends_at))


class DutyQueries(StoreBase):
    async def replace_roster(
        self,
        shifts: Sequence[Shift],
        cells: Sequence[str] | None = None,
        actor: str | None = "duty import",
    ) -> None:
        """The roster of `cells` (None: the whole county) becomes `shifts`, in one transaction; audited
        as `actor` (None: the caller audits, as the API does with the request's origin)."""
        d = t.duty_shifts.c
        rows = [
            {
                "cell_code": s.cell_code,
                "role": s.role.value,
                "post": s.post.value,
                "starts_at": s.start,
                "ends_at": s.end,
                "person_id": s.person_id,
            }
            for s in shifts
        ]
        async with self.engine.begin() as conn:
            if cells is None:
                await conn.execute(delete(t.duty_shifts))
            else:
                for chunk in chunks(list(cells)):
                    await conn.execute(delete(t.duty_shifts).where(d.cell_code.in_(chunk)))
            for chunk in chunks(rows):
                await conn.execute(t.duty_shifts.insert(), list(chunk))
            if actor is None:
                return
            detail = {"shifts": len(rows), "cells": sorted(cells) if cells is not None else "all"}
            await conn.execute(
                t.audit_log.insert().values(
                    at=self.clock.now(),
                    actor=actor,
                    action="duty.replace",
                    subject=",".join(cells)[:200] if cells is not None else None,
                    detail=json.dumps(detail, ensure_ascii=False),
                )
            )

    async def roster(self, cell: str | None = None) -> list[Shift]:
        """The roster (of one cell), by cell, role, post and start."""
        d = t.duty_shifts.c
        query = select(t.duty_shifts).order_by(d.cell_code, d.role, d.post, d.starts_at)
        if cell is not None:
            query = query.where(d.cell_code == cell)
        async with self.engine.connect() as conn:
            return [_shift(r) for r in await conn.execute(query)]

    async def duty_board(self, at: float) -> DutyBoard:
        """Who is on duty at `at`, and every cell the roster names (for gaps). Two small queries."""
        d = t.duty_shifts.c
        async with self.engine.connect() as conn:
            now = await conn.execute(select(t.duty_shifts).where(d.starts_at <= at, d.ends_at > at))
            shifts = [_shift(r) for r in now]
            cells = {r[0] for r in await conn.execute(select(d.cell_code).distinct())}
        return DutyBoard(shifts, cells)

    async def duty_refs(self) -> tuple[dict[str, Level], set[str]]:
        """What a roster is checked against: the grid's cells (code → level) and the people's ids."""
        async with self.engine.connect() as conn:
            levels = {
                r.code: Level(r.level) for r in await conn.execute(select(t.cells.c.code, t.cells.c.level))
            }
            people = {r[0] for r in await conn.execute(select(t.people.c.person_id))}
        return levels, people

    async def duty_calls(self, warning_id: str) -> list[DutyCall]:
        """Every 叫应 of the warning's duty ladder, by silent person and rung."""
        c = t.duty_calls.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(t.duty_calls).where(c.warning_id == warning_id).order_by(c.person_id, c.rung)
            )
            return [
                DutyCall(
                    r.person_id,
                    r.target_id,
                    r.rung,
                    r.cell_code,
                    r.post,
                    float(r.called_at),
                    int(r.tries),
                    None if r.last_called_at is None else float(r.last_called_at),
                )
                for r in res
            ]

    async def record_duty_calls(self, warning_id: str, calls: Sequence[DutyCall]) -> None:
        rows = [
            {
                "warning_id": warning_id,
                "person_id": c.person_id,
                "target_id": c.target_id,
                "rung": c.rung,
                "cell_code": c.cell_code,
                "post": c.post,
                "called_at": c.called_at,
            }
            for c in calls
        ]
        async with self.engine.begin() as conn:
            for chunk in chunks(rows):
                await conn.execute(self._insert_ignore(t.duty_calls), list(chunk))

    async def record_duty_retries(self, warning_id: str, calls: Sequence[tuple[str, str, float]]) -> None:
        """Phone 叫应 called again: (silent person, target, when) → tries + 1, last_called_at."""
        c = t.duty_calls.c
        async with self.engine.begin() as conn:
            for person_id, target_id, at in calls:
                await conn.execute(
                    update(t.duty_calls)
                    .where(c.warning_id == warning_id, c.person_id == person_id, c.target_id == target_id)
                    .values(tries=c.tries + 1, last_called_at=at)
                )

    async def answered(
        self, warning_id: str, person_ids: Sequence[str], min_step: int | None = None
    ) -> set[str]:
        """Of `person_ids`, those who have acknowledged a delivery of the warning (any version; of ladder
        steps from `min_step` if given: a 叫应 is answered by acknowledging a 叫应, steps 50…)."""
        d = t.deliveries.c
        out: set[str] = set()
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(person_ids))):
                query = (
                    select(d.person_id)
                    .distinct()
                    .where(d.warning_id == warning_id, d.person_id.in_(chunk), d.acked_at.is_not(None))
                )
                if min_step is not None:  # 叫应 steps only: acknowledging an upward report is not one
                    query = query.where(d.step >= min_step, d.step < CALL_END)
                res = await conn.execute(query)
                out |= {r[0] for r in res}
        return out
