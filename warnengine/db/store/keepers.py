"""Issue 17's people in the field: the vulnerable register and its helpers (包保), the monitoring points a
warning covers (their leads' tasks), which directory person an API account is, and what a shelter keeper's
SMS check-in needs to know (their shelters, the warning a household is evacuating under)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import evac_tables as et
from warnengine.db import keeper_tables as kt
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase
from warnengine.model.evacuation import Shelter
from warnengine.model.vulnerable import VulnerableEntry

CoveredPoint = tuple[str, str, str, str, str | None, list[str]]  # id, name, kind, cell, lead, households


class KeeperQueries(StoreBase):
    async def vulnerable_register(self) -> list[VulnerableEntry]:
        v = kt.vulnerable_households.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(kt.vulnerable_households).order_by(v.household_id))
            return [VulnerableEntry.model_validate(dict(r._mapping)) for r in rows]

    async def helper_names(self, warning_id: str) -> dict[str, str]:
        async with self.engine.connect() as conn:
            return await helper_names(conn, warning_id)

    async def points_covered(self, warning_id: str) -> list[tuple[str, str, str, str, str | None, list[str]]]:
        """The monitoring points with a threatened household the warning targets, each with those
        households (door by door, in id order)."""
        ph, wh, pt = t.point_households.c, t.warning_households.c, t.points.c
        query = (
            select(pt.point_id, pt.name, pt.kind, pt.cell_code, pt.lead_person_id, ph.household_id)
            .join_from(t.points, t.point_households, ph.point_id == pt.point_id)
            .join(
                t.warning_households,
                (wh.household_id == ph.household_id) & (wh.warning_id == warning_id),
            )
            .order_by(pt.point_id, ph.household_id)
        )
        out: dict[str, CoveredPoint] = {}
        async with self.engine.connect() as conn:
            for r in await conn.execute(query):
                out.setdefault(r[0], (r[0], r[1], r[2], r[3], r[4], []))[5].append(r[5])
        return list(out.values())

    async def link_account(self, username: str, person_id: str | None) -> None:
        """Which directory person `username` is (None: none)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(kt.account_people).where(kt.account_people.c.username == username))
            if person_id is not None:
                await conn.execute(kt.account_people.insert().values(username=username, person_id=person_id))

    async def account_person(self, username: str) -> str | None:
        a = kt.account_people.c
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(a.person_id).where(a.username == username))).first()
        return row[0] if row else None

    async def shelters_kept_by(self, person_ids: list[str]) -> list[Shelter]:
        s = et.shelters.c
        if not person_ids:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(et.shelters).where(s.keeper_person_id.in_(person_ids)).order_by(s.shelter_id)
            )
            return [Shelter(**r._mapping) for r in rows]

    async def checkin_of(self, warning_id: str, person_key: str) -> tuple[str | None, float] | None:
        """Who checked `person_key` in, and when (None: nobody)."""
        c = et.shelter_checkins.c
        query = select(c.by, c.at).where(c.warning_id == warning_id, c.person_key == person_key)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row[0], float(row[1])) if row else None

    async def evacuation_warning_for(self, household_id: str | None, since: float) -> str | None:
        """The warning a household checking in is evacuating under: the latest evacuation ordered since
        `since` that names it, else the latest ordered at all since then (a family from outside the
        threatened zones is sheltered too); None when no evacuation is under way."""
        e = et.evacuation_households.c
        latest: Any = select(e.warning_id).where(e.ordered_at >= since).order_by(e.ordered_at.desc())
        async with self.engine.connect() as conn:
            if household_id is not None:
                row = (await conn.execute(latest.where(e.household_id == household_id).limit(1))).first()
                if row is not None:
                    return str(row[0])
            row = (await conn.execute(latest.limit(1))).first()
        return str(row[0]) if row else None


async def helper_names(conn: AsyncConnection, warning_id: str) -> dict[str, str]:
    """household → its helper as the closure report names them: 姓名（person id）, for the warning's
    households in the register."""
    v, wh, p = kt.vulnerable_households.c, t.warning_households.c, t.people.c
    query = (
        select(v.household_id, v.helper_person_id, p.name)
        .join_from(kt.vulnerable_households, t.warning_households, wh.household_id == v.household_id)
        .join(t.people, p.person_id == v.helper_person_id, isouter=True)
        .where(wh.warning_id == warning_id, v.helper_person_id.is_not(None))
    )
    return {r[0]: f"{r[2] or '?'}（{r[1]}）" for r in await conn.execute(query)}
