"""The rows a closure report (闭环) is made of, for one warning chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from warnengine.db import tables as t
from warnengine.db.store.keepers import helper_names
from warnengine.db.store.persons import PersonQueries


class ClosureQueries(PersonQueries):  # 到人: the report counts persons (db/store/persons.py)
    async def closure_rows(self, warning_id: str) -> dict[str, Any] | None:
        w, wh, d = t.warnings.c, t.warning_households.c, t.deliveries.c
        async with self.engine.connect() as conn:
            versions = (
                await conn.execute(
                    select(w.version, w.msg_type, w.state, w.body, w.received_at, w.resolved_at)
                    .where(w.warning_id == warning_id)
                    .order_by(w.version)
                )
            ).all()
            if not versions:
                return None
            households = (
                await conn.execute(
                    select(
                        wh.household_id,
                        wh.village_code,
                        wh.cell_code,
                        wh.vulnerable,
                        wh.state,
                        wh.reached_by,
                        wh.reached_at,
                        wh.reason,
                    ).where(wh.warning_id == warning_id)
                )
            ).all()
            deliveries = (
                await conn.execute(
                    select(d.channel, d.state, func.count().label("n"))
                    .where(d.warning_id == warning_id)
                    .group_by(d.channel, d.state)
                )
            ).all()
            calls = (
                await conn.execute(select(t.staff_calls).where(t.staff_calls.c.warning_id == warning_id))
            ).all()
            dc = t.duty_calls.c
            # The duty ladder's 叫应 about each silent person: whom, in order, and how many calls.
            duty: dict[str, list[tuple[str, str | None, int]]] = {}
            for r in await conn.execute(
                select(dc.person_id, dc.target_id, dc.post, dc.tries)
                .where(dc.warning_id == warning_id)
                .order_by(dc.person_id, dc.rung)
            ):
                duty.setdefault(r.person_id, []).append((r.target_id, r.post, int(r.tries)))
            tasks = (
                await conn.execute(
                    select(t.visit_tasks.c.state, func.count().label("n"))
                    .where(t.visit_tasks.c.warning_id == warning_id)
                    .group_by(t.visit_tasks.c.state)
                )
            ).all()
            vt, vh = t.visit_tasks.c, t.visit_households.c
            visiting = {
                r.household_id: (r.task_id, r.assignee, r.level)
                for r in await conn.execute(
                    select(vh.household_id, vt.task_id, vt.assignee, vt.level)
                    .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
                    .where(
                        vt.warning_id == warning_id, vt.state.in_(("open", "accepted")), vh.outcome.is_(None)
                    )
                )
            }
            p = t.people.c
            # Persons (issue 17, first step): the members of the warning's households, and who of them
            # acknowledged on any channel.
            members = (
                await conn.execute(
                    select(p.person_id, p.household_id)
                    .join_from(t.people, t.warning_households, wh.household_id == p.household_id)
                    .where(wh.warning_id == warning_id)
                )
            ).all()
            acked = {
                r.person_id
                for r in await conn.execute(
                    select(d.person_id)
                    .where(d.warning_id == warning_id, d.acked_at.is_not(None), d.household_id.is_not(None))
                    .distinct()
                )
            }
            size = {
                r.household_id: int(r.members)
                for r in await conn.execute(
                    select(t.households.c.household_id, t.households.c.members)
                    .join_from(
                        t.households, t.warning_households, wh.household_id == t.households.c.household_id
                    )
                    .where(wh.warning_id == warning_id)
                )
            }
            names = dict(
                (
                    await conn.execute(
                        select(t.cells.c.code, t.cells.c.name).where(
                            t.cells.c.code.in_(sorted({h.village_code for h in households}))
                        )
                    )
                ).all()
            )
            helpers = await helper_names(conn, warning_id)  # the vulnerable register's (包保)
            town = t.cells.alias("town")
            # Each village's township (the workbook has a sheet per township).
            townships = {
                r.code: (r.town, r.town_name)
                for r in await conn.execute(
                    select(t.cells.c.code, town.c.code.label("town"), town.c.name.label("town_name"))
                    .join_from(t.cells, town, town.c.code == t.cells.c.parent)
                    .where(t.cells.c.code.in_(sorted(names)))
                )
            }
        return {
            "versions": [r._asdict() for r in versions],
            "households": [r._asdict() for r in households],
            "deliveries": [r._asdict() for r in deliveries],
            "staff_calls": [r._asdict() for r in calls],
            "duty_calls": duty,
            "visit_tasks": {r.state: r.n for r in tasks},
            "village_names": names,
            "townships": townships,
            "visiting": visiting,
            "members": [(r.person_id, r.household_id) for r in members],
            "acked_persons": acked,
            "household_size": size,
            "helpers": helpers,
            "persons_tally": await self.persons_tally(warning_id),
            "persons_timeline": await self.accounted_timeline(warning_id),
        }
