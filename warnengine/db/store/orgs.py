"""Organisations (单位, issue 17): the directory's orgs, each warning's orgs with their state, and the
deliveries sent for each (how an acknowledgement finds its org)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model.org import Org
from warnengine.model.org_records import WarningOrg
from warnengine.model.records import Acknowledged

# warning_orgs columns save_org_plan takes, in order.
WARNING_ORG_COLUMNS = (
    "warning_id",
    "org_id",
    "version",
    "village_code",
    "cell_code",
    "kind",
    "name",
    "headcount",
    "responsible",
    "state",
    "planned_at",
)


def org_row(o: Org) -> dict[str, Any]:
    return {**o.model_dump(mode="json"), "responsible": ";".join(o.responsible)}


async def reach_orgs(conn: AsyncConnection, done: Sequence[Acknowledged]) -> None:
    """In the acknowledging transaction: the orgs of the acknowledged deliveries reached (the earliest
    answer is the evidence). Deliveries that are not an org's change nothing."""
    ids = sorted({a.delivery_id for a in done})
    found: dict[str, str] = {}
    od = ot.org_deliveries.c
    for chunk in chunks(ids):
        res = await conn.execute(select(od.delivery_id, od.org_id).where(od.delivery_id.in_(chunk)))
        found.update({r.delivery_id: r.org_id for r in res})
    first: dict[tuple[str, str], Acknowledged] = {}
    for a in done:
        org = found.get(a.delivery_id)
        if org is not None and ((a.warning_id, org) not in first or a.at < first[a.warning_id, org].at):
            first[a.warning_id, org] = a
    wo = ot.warning_orgs.c
    for (wid, org), a in sorted(first.items()):
        await conn.execute(
            update(ot.warning_orgs)
            .where(wo.warning_id == wid, wo.org_id == org, wo.state != "reached")
            .values(state="reached", reached_at=a.at, reached_by=a.channel, evidence=a.delivery_id)
        )


class OrgQueries(StoreBase):
    async def save_org_plan(
        self, orgs: Sequence[tuple[Any, ...]], deliveries: Sequence[tuple[str, str, str]]
    ) -> None:
        """warning_orgs rows (WARNING_ORG_COLUMNS) and (delivery id, warning, org); rows there are kept,
        so a redelivered warning or a repeated step changes nothing."""
        async with self.engine.begin() as conn:
            for chunk in chunks([dict(zip(WARNING_ORG_COLUMNS, r, strict=True)) for r in orgs], 2000):
                await conn.execute(self._insert_ignore(ot.warning_orgs), list(chunk))
            rows = [{"delivery_id": d, "warning_id": w, "org_id": o} for d, w, o in deliveries]
            for chunk in chunks(rows, 2000):
                await conn.execute(self._insert_ignore(ot.org_deliveries), list(chunk))

    async def note_orgs(self, notes: Sequence[tuple[str, str]]) -> int:
        """(delivery id, what the responsible person wrote after 收到): kept as the org's evidence note
        (the first note stands). Returns how many orgs got one."""
        od, wo = ot.org_deliveries.c, ot.warning_orgs.c
        n = 0
        async with self.engine.begin() as conn:
            for did, note in notes:
                hit = (
                    await conn.execute(select(od.warning_id, od.org_id).where(od.delivery_id == did))
                ).first()
                if hit is None:
                    continue
                res = await conn.execute(
                    update(ot.warning_orgs)
                    .where(wo.warning_id == hit.warning_id, wo.org_id == hit.org_id, wo.note.is_(None))
                    .values(note=note[:500])
                )
                n += res.rowcount or 0
        return n

    async def org_recipients(
        self, warning_id: str, before_version: int
    ) -> list[tuple[str, str, str, str, str]]:
        """(person, org, channel, address, village) of every org delivery an earlier version of the chain
        sent: whom its Cancel must reach (plan/stage.py)."""
        od, d = ot.org_deliveries.c, t.deliveries.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(d.person_id, od.org_id, d.channel, d.recipient, d.village_code)
                .join_from(ot.org_deliveries, t.deliveries, d.delivery_id == od.delivery_id)
                .where(
                    od.warning_id == warning_id,
                    d.version < before_version,
                    # Went out (claimed, or recorded sent or beyond): one never sent was cancelled unsent.
                    or_(d.attempts > 0, d.state.in_(("sent", "delivered", "acknowledged"))),
                    d.person_id.is_not(None),
                )
                .distinct()
            )
            return sorted((r[0], r[1], r[2], r[3], r[4]) for r in res)

    async def confirm_org(
        self, warning_id: str, org_id: str, state: str, note: str | None, now: float
    ) -> str:
        """A visitor's word on an org (api/org_visits.py): `reached` (told the responsible person in
        person) or `unreachable` (the note says why). "recorded"; "same" when the org is already reached
        or a visitor already named it so (nothing counted twice); "missing" when the warning did not
        target it."""
        wo = ot.warning_orgs.c
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(wo.state, wo.note).where(wo.warning_id == warning_id, wo.org_id == org_id)
                )
            ).first()
            if row is None:
                return "missing"
            # Reached stands; an org a visitor already named unreachable keeps the first reason. One the
            # planner named (nobody to message: no note yet) takes the visitor's reason.
            if row.state == "reached" or (row.state == state and row.note is not None):
                return "same"
            values: dict[str, Any] = {"state": state, "note": note[:500] if note else None}
            if state == "reached":
                values.update(reached_at=now, reached_by="visit")
            await conn.execute(
                update(ot.warning_orgs)
                .where(wo.warning_id == warning_id, wo.org_id == org_id, wo.state == row.state)
                .values(values)
            )
        return "recorded"

    async def org_deliveries_known(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are deliveries sent for an org."""
        od = ot.org_deliveries.c
        out: set[str] = set()
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(ids))):
                res = await conn.execute(select(od.delivery_id).where(od.delivery_id.in_(chunk)))
                out.update(r.delivery_id for r in res)
        return out

    async def warning_orgs(self, warning_id: str, unreached: bool = False) -> list[WarningOrg]:
        """The warning's orgs (only those not reached, with `unreached`), by village then id."""
        wo = ot.warning_orgs.c
        q = select(ot.warning_orgs).where(wo.warning_id == warning_id)
        if unreached:
            q = q.where(wo.state != "reached")
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q.order_by(wo.village_code, wo.org_id))).all()
        return [
            WarningOrg(
                r.org_id,
                r.village_code,
                r.cell_code,
                r.kind,
                r.name,
                r.headcount,
                tuple(p for p in r.responsible.split(";") if p),
                r.state,
                r.reached_at,
                r.reached_by,
                r.note,
                r.last_step,
                r.escalated_to,
            )
            for r in rows
        ]

    async def mark_org_step(self, warning_id: str, steps: Sequence[tuple[str, int, str | None]]) -> None:
        """(org, ladder step, who it was handed to or None) for the orgs a step ran on."""
        wo = ot.warning_orgs.c
        async with self.engine.begin() as conn:
            for org, step, to in steps:
                values: dict[str, Any] = {"last_step": step}
                if to is not None:
                    values["escalated_to"] = to
                await conn.execute(
                    update(ot.warning_orgs)
                    .where(wo.warning_id == warning_id, wo.org_id == org)
                    .values(values)
                )

    async def export_orgs(self) -> list[Org]:
        """The directory's orgs as `grid export` writes them."""
        return [
            Org(
                org_id=r.org_id,
                cell_code=r.cell_code,
                kind=r.kind,
                name=r.name,
                lon=r.lon,
                lat=r.lat,
                headcount=r.headcount,
                responsible=tuple(p for p in r.responsible.split(";") if p),
            )
            for r in await self.org_directory_rows()
        ]

    async def org_directory_rows(self) -> list[Any]:
        """The directory's orgs as the in-memory index takes them (resolve/orgs.py)."""
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(ot.orgs).order_by(ot.orgs.c.org_id))).all())
