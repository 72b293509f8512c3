"""A visitor's report of one household of a visit task (入户): the outcome, and who of the household the
visitor accounted for (到人, issue 17) — by name from the household's list, or by a headcount.

- `reached` (or `refused`: a warning heard) with neither names nor a headcount: the visitor says the whole
  household is accounted for (as the SMS reply "完成" does). With names or a headcount, those are; if the
  household still has members unaccounted for, the door counts as `nobody_home` for them ("partly home"):
  it stays open and is revisited like an empty door, and after the second it is final (whereabouts unknown).
- `moved`: the household is away (外出), every member accounted for as away; the household is named
  unreachable with that reason, as before.
- `needs_help`, `nobody_home`: open cases (escalate/follow_up.py); anyone named is accounted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import field_tables as ft
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase
from warnengine.db.store.escalation import NEEDS_HELP, NOBODY_HOME
from warnengine.db.store.field_reports import from_visit, insert_reports
from warnengine.db.store.persons import accounted_of, add_accounts, count_row, named_rows

OUTCOMES = ("reached", "nobody_home", "refused", "moved", "needs_help")
# An outcome that tells the household was warned (a refusal to leave was still a warning heard).
_REACHED = ("reached", "refused")


@dataclass(frozen=True)
class VisitResult:
    outcome: str  # as recorded: `reached` with members unaccounted for is `nobody_home` (partly home)
    persons: int  # the household's members
    accounted: int  # of them accounted for now


async def _open_or_final(
    conn: AsyncConnection, warning_id: str, household_id: str, outcome: str, note: str | None
) -> tuple[str, str | None]:
    """The household's state and reason after a visit outcome: reached, an open case, or final with what
    is known (away, confirmed by whoever the visitor asked; whereabouts unknown at a second empty door)."""
    said = f" ({note})" if note else ""
    if outcome in _REACHED:
        return "reached", None
    if outcome == NEEDS_HELP:
        return NEEDS_HELP, f"visit: needs_help{said}"
    if outcome == "moved":
        return "unreachable", f"away / 外出 — confirmed at the visit{said}"
    vt, vh = t.visit_tasks.c, t.visit_households.c
    empty = (
        await conn.execute(
            select(func.count())
            .select_from(t.visit_households.join(t.visit_tasks, vt.task_id == vh.task_id))
            .where(vt.warning_id == warning_id, vh.household_id == household_id, vh.outcome == NOBODY_HOME)
        )
    ).scalar_one()
    if empty >= 2:  # this report is already written: the second empty door
        return "unreachable", f"whereabouts unknown / 下落不明 — nobody home twice{said}"
    return NOBODY_HOME, f"visit: nobody_home{said}"


class VisitQueries(StoreBase):
    async def report_visit(
        self,
        task_id: str,
        household_id: str,
        outcome: str,
        at: float,
        note: str | None = None,
        persons: Sequence[str] | None = None,
        headcount: int | None = None,
    ) -> bool:
        """A visitor's outcome for one household (see the module); False: not on an open task."""
        res = await self.report_visit_persons(task_id, household_id, outcome, at, note, persons, headcount)
        return res is not None

    async def report_visit_persons(
        self,
        task_id: str,
        household_id: str,
        outcome: str,
        at: float,
        note: str | None = None,
        persons: Sequence[str] | None = None,
        headcount: int | None = None,
    ) -> VisitResult | None:
        """As `report_visit`, with what was recorded. The names must be the household's people and the
        headcount 0…members (the API checks both first, with the field named; here they raise)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if headcount is not None and headcount < 0:
            raise ValueError("headcount cannot be negative")
        vt, vh = t.visit_tasks.c, t.visit_households.c
        async with self.engine.begin() as conn:
            task = (await conn.execute(select(t.visit_tasks).where(vt.task_id == task_id))).one_or_none()
            if task is None or task.state == "cancelled":
                return None
            held = (
                await conn.execute(
                    select(vh.vulnerable).where(vh.task_id == task_id, vh.household_id == household_id)
                )
            ).one_or_none()
            if held is None:
                return None
            wid = task.warning_id
            size, _ = (await accounted_of(conn, wid, [household_id]))[household_id]
            if headcount is not None and headcount > size:
                raise ValueError(f"headcount {headcount} is more than the household's {size} members")
            rows = named_rows(wid, household_id, list(persons or ()), "visit", at, task_id)
            if outcome == "moved":
                rows.append(count_row(wid, household_id, size, "away", at, task_id))
            elif headcount is not None:
                rows.append(count_row(wid, household_id, headcount, "headcount", at, task_id))
            elif outcome in _REACHED and not persons:  # the visitor says: the whole household
                rows.append(count_row(wid, household_id, size, "headcount", at, task_id))
            await add_accounts(conn, self._pg, rows)
            size, got = (await accounted_of(conn, wid, [household_id]))[household_id]
            if outcome == "reached" and got < size:  # partly home: open for the rest, like an empty door
                outcome = NOBODY_HOME
                note = f"部分在家 partly home: {got} of {size} accounted" + (f"; {note}" if note else "")
            await conn.execute(
                update(t.visit_households)
                .where(vh.task_id == task_id, vh.household_id == household_id)
                .values(outcome=outcome, at=at, note=note)
            )
            await self._household_after(conn, task, household_id, outcome, note, bool(held[0]), at)
            await self._task_progress(conn, task, at)
            return VisitResult(outcome, size, got)

    async def _household_after(
        self,
        conn: AsyncConnection,
        task: Row[Any],
        household_id: str,
        outcome: str,
        note: str | None,
        vulnerable: bool,
        at: float,
    ) -> None:
        wid, village, assignee, task_id = task.warning_id, task.village_code, task.assignee, task.task_id
        wh = t.warning_households.c
        reached = outcome in _REACHED
        state, reason = await _open_or_final(conn, wid, household_id, outcome, note)
        opened = from_visit(wid, village, household_id, outcome, reason, vulnerable, assignee, at)
        if opened is not None:  # needs help, a refusal, a vulnerable person not found: the inbox
            await insert_reports(conn, self._insert_ignore(ft.field_reports), [opened])
        await conn.execute(
            update(t.warning_households)
            .where(and_(wh.warning_id == wid, wh.household_id == household_id), wh.state != "reached")
            .values(
                state=state,
                reached_by="visit" if reached else None,
                evidence=task_id,
                reached_at=at if reached else None,
                reason=reason,
                updated_at=at,
            )
        )

    async def _task_progress(self, conn: AsyncConnection, task: Row[Any], at: float) -> None:
        """The task is done when every household has an outcome, accepted at its first."""
        vt, vh = t.visit_tasks.c, t.visit_households.c
        task_id = task.task_id
        left = (
            await conn.execute(select(func.count()).where(vh.task_id == task_id, vh.outcome.is_(None)))
        ).scalar_one()
        if not left:
            await conn.execute(
                update(t.visit_tasks).where(vt.task_id == task_id).values(state="done", done_at=at)
            )
        elif task.state == "open":
            await conn.execute(
                update(t.visit_tasks).where(vt.task_id == task_id).values(state="accepted", accepted_at=at)
            )

    async def confirm_visits_by(self, person_ids: Sequence[str], at: float) -> int:
        """A visitor's "done" reply (SMS): every household still open in their tasks reached, by visit
        (the whole household: a reply cannot name anyone)."""
        vt, vh = t.visit_tasks.c, t.visit_households.c
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(vh.task_id, vh.household_id)
                    .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
                    .where(
                        vt.assignee.in_(list(person_ids)),
                        vt.state.in_(("open", "accepted")),
                        vh.outcome.is_(None),
                    )
                )
            ).all()
        n = 0
        for r in rows:
            n += await self.report_visit(r.task_id, r.household_id, "reached", at, "confirmed by reply")
        return n
