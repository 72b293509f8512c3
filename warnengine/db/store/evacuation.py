"""Evacuation (转移, issue 17): shelters, each warning's threatened households (ordered once, with their
shelter), a visitor's outcome per household (a refusal or a request for help opens a field report), shelter
check-ins (one per person: a second is refused, nothing counted twice) and the live counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import and_, func, select, union, update

from warnengine.db import evac_tables as et
from warnengine.db import field_tables as ft
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.db.store.field_reports import from_visit, insert_reports
from warnengine.db.store.persons import add_accounts, close_accounted, count_row
from warnengine.model.evacuation import EvacOutcome, Shelter

Recorded = Literal["recorded", "missing", "same"]
CheckIn = Literal["checked_in", "already"]


class EvacuationQueries(StoreBase):
    async def shelters(self) -> list[Shelter]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(et.shelters).order_by(et.shelters.c.shelter_id))
            return [Shelter(**r._mapping) for r in rows]

    async def threatened_households(
        self, warning_id: str
    ) -> list[tuple[str, str, str, bool, int, float, float]]:
        """The warning's targeted households that a monitoring point threatens or a threatened zone holds:
        (household, village, group cell, vulnerable, residents, lon, lat)."""
        wh, h = t.warning_households.c, t.households.c
        # A monitoring point's threatened households and the households inside a threatened zone.
        marked = union(
            select(t.point_households.c.household_id.label("hid")),
            select(et.zone_households.c.household_id.label("hid")),
        ).subquery()
        query = (
            select(wh.household_id, wh.village_code, wh.cell_code, wh.vulnerable, h.members, h.lon, h.lat)
            .select_from(
                t.warning_households.join(marked, marked.c.hid == wh.household_id).join(
                    t.households, h.household_id == wh.household_id
                )
            )
            .where(wh.warning_id == warning_id)
        )
        async with self.engine.connect() as conn:
            return [
                (r[0], r[1], r[2], bool(r[3]), int(r[4]), float(r[5]), float(r[6]))
                for r in await conn.execute(query.order_by(wh.household_id))
            ]

    async def evacuation_ordered(self, warning_id: str) -> bool:
        e = et.evacuation_households.c
        async with self.engine.connect() as conn:
            found = await conn.execute(select(e.household_id).where(e.warning_id == warning_id).limit(1))
            return found.first() is not None

    async def order_evacuation(self, rows: Sequence[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            for chunk in chunks(list(rows)):
                await conn.execute(self._insert_ignore(et.evacuation_households), list(chunk))

    async def evacuation_households(self, warning_id: str) -> list[dict[str, Any]]:
        e = et.evacuation_households.c
        async with self.engine.connect() as conn:
            query = select(et.evacuation_households).where(e.warning_id == warning_id)
            return [dict(r._mapping) for r in await conn.execute(query.order_by(e.household_id))]

    async def record_evacuation(
        self,
        warning_id: str,
        household_id: str,
        outcome: EvacOutcome,
        destination: str | None,
        persons: int | None,
        who: str,
        note: str | None,
        now: float,
    ) -> Recorded:
        """A visitor's outcome for a threatened household. The same outcome again is `same` (nothing
        changes, nothing is counted twice); another outcome replaces it (people change their minds)."""
        e = et.evacuation_households.c
        key = and_(e.warning_id == warning_id, e.household_id == household_id)
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(et.evacuation_households).where(key))).one_or_none()
            if row is None:
                return "missing"
            if row.outcome == outcome.value and row.destination == destination:
                return "same"
            moved = min(persons if persons is not None else row.persons, row.persons)
            values = {
                "outcome": outcome.value,
                "destination": destination,
                "evacuated_persons": moved if outcome is EvacOutcome.EVACUATED else 0,
                "outcome_at": now,
                "outcome_by": who,
                "note": note,
            }
            await conn.execute(update(et.evacuation_households).where(key).values(**values))
            said = f"转移 / evacuation: {note}" if note else "转移 / evacuation"
            report = from_visit(
                warning_id, row.village_code, household_id, outcome.value, said, row.vulnerable, who, now
            )
            if report is not None:  # refused / needs help: the inbox, with its deadline
                await insert_reports(conn, self._insert_ignore(ft.field_reports), [report])
            # 到人: the evacuated, a household away, a refusal seen at the door are accounted for; a
            # household whose every member is, is reached (db/store/persons.py). Needs help stays open.
            counted = {
                EvacOutcome.EVACUATED: values["evacuated_persons"],
                EvacOutcome.AWAY: row.persons,
                EvacOutcome.REFUSED: row.persons,
            }.get(outcome)
            if counted:
                how = "evacuated" if outcome is EvacOutcome.EVACUATED else "away"
                how = "headcount" if outcome is EvacOutcome.REFUSED else how
                await add_accounts(
                    conn,
                    self._pg,
                    [count_row(warning_id, household_id, int(counted), how, now, "evacuation")],
                )
                await close_accounted(
                    conn, warning_id, [household_id], "evacuation", f"evacuation:{who}", now
                )
        return "recorded"

    async def second_visits_due(self, warning_id: str) -> list[tuple[str, str, str, bool]]:
        """Refusals not yet handed to the village grid head: (household, village, group cell, vulnerable)."""
        e = et.evacuation_households.c
        query = select(e.household_id, e.village_code, e.cell_code, e.vulnerable).where(
            e.warning_id == warning_id, e.outcome == EvacOutcome.REFUSED.value, e.followed_at.is_(None)
        )
        async with self.engine.connect() as conn:
            return [(r[0], r[1], r[2], bool(r[3])) for r in await conn.execute(query)]

    async def mark_followed(self, warning_id: str, households: Sequence[str], now: float) -> None:
        e = et.evacuation_households.c
        async with self.engine.begin() as conn:
            for chunk in chunks(list(households)):
                await conn.execute(
                    update(et.evacuation_households)
                    .where(e.warning_id == warning_id, e.household_id.in_(chunk))
                    .values(followed_at=now)
                )

    async def check_in(
        self,
        warning_id: str,
        shelter_id: str,
        person_key: str,
        household_id: str | None,
        persons: int,
        who: str,
        now: float,
    ) -> CheckIn:
        """One check-in per person (or household headcount) per warning: a second is `already`, as is a
        person of a household checked in by headcount (or a headcount of one checked in person by person)."""
        row = {
            "warning_id": warning_id,
            "person_key": person_key,
            "shelter_id": shelter_id,
            "household_id": household_id,
            "persons": persons,
            "at": now,
            "by": who,
        }
        c = et.shelter_checkins.c
        async with self.engine.begin() as conn:
            if household_id is not None:
                # A household is counted one way: by its headcount, or person by person, never both.
                other = (
                    c.person_key != f"household:{household_id}"
                    if person_key.startswith("household:")
                    else c.person_key == f"household:{household_id}"
                )
                mixed = select(c.person_key).where(
                    c.warning_id == warning_id, c.household_id == household_id, other
                )
                if (await conn.execute(mixed.limit(1))).first() is not None:
                    return "already"
            # One row, not a batch: its rowcount says whether it was stored or met one already there.
            res = await conn.execute(self._insert_ignore(et.shelter_checkins).values(**row))
        return "checked_in" if res.rowcount == 1 else "already"

    async def checked_in(self, warning_id: str) -> dict[str, int]:
        """Persons checked in per shelter."""
        c = et.shelter_checkins.c
        query = (
            select(c.shelter_id, func.sum(c.persons)).where(c.warning_id == warning_id).group_by(c.shelter_id)
        )
        async with self.engine.connect() as conn:
            return {r[0]: int(r[1] or 0) for r in await conn.execute(query)}

    async def checked_in_by_household(self, warning_id: str) -> dict[str, int]:
        c = et.shelter_checkins.c
        query = (
            select(c.household_id, func.sum(c.persons))
            .where(c.warning_id == warning_id, c.household_id.is_not(None))
            .group_by(c.household_id)
        )
        async with self.engine.connect() as conn:
            return {r[0]: int(r[1] or 0) for r in await conn.execute(query)}

    async def person_household(self, person_id: str) -> tuple[bool, str | None]:
        """(known person, their household)."""
        p = t.people.c
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(p.household_id).where(p.person_id == person_id))).first()
        return (row is not None, row[0] if row else None)
