"""The county directory: cells, households, people, devices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, func, select

from warnengine.db import evac_tables as et
from warnengine.db import keeper_tables as kt
from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db import tables_addresses as ta
from warnengine.db.store.base import StoreBase, chunks
from warnengine.db.store.orgs import org_row
from warnengine.model import Cell, Device, Household, Level, MonitoringPoint, Person
from warnengine.model.evacuation import Shelter, Zone
from warnengine.model.grid import WeChatGroup
from warnengine.model.org import Org
from warnengine.model.vulnerable import VulnerableEntry


class DirectoryQueries(StoreBase):
    async def import_directory(
        self,
        cells: list[Cell],
        households: list[Household],
        people: list[Person],
        devices: list[Device],
        points: Sequence[MonitoringPoint] = (),
        skipped: Sequence[tuple[str, int, str]] = (),
        shelters: Sequence[Shelter] = (),
        zones: Sequence[Zone] = (),
        vulnerable: Sequence[VulnerableEntry] = (),
        orgs: Sequence[Org] = (),
        changes: dict[str, Any] | None = None,
        actor: str = "grid import",
        wechat_groups: Sequence[WeChatGroup] = (),
    ) -> None:
        """Load or update a county's directory in place (re-import overwrites by id, in one transaction).
        `skipped`: the rows `grid import --skip-bad-rows` left out, (file, line, reason), kept in the audit.
        `changes`: what the import changes (counts per table, rows before/after), kept in the audit too.

        Rows absent from the files are kept: a partial import (one township's people) must not erase the
        rest of the county. A point's threatened households are replaced by the imported list.
        """
        batches: list[tuple[Table, str, list[dict[str, Any]]]] = [
            (t.cells, "code", [{**c.model_dump(), "geometry": json.dumps(c.geometry)} for c in cells]),
            (t.households, "household_id", [h.model_dump() for h in households]),
            (t.people, "person_id", [p.model_dump(mode="json", exclude={"fcm_token"}) for p in people]),
            (t.devices, "device_id", [d.model_dump() for d in devices]),
            (t.points, "point_id", [p.model_dump(exclude={"households"}) for p in points]),
            (et.shelters, "shelter_id", [s.model_dump() for s in shelters]),
            (et.zones, "zone_id", [_zone_row(z) for z in zones]),
            (kt.vulnerable_households, "household_id", [v.model_dump(mode="json") for v in vulnerable]),
            (ta.wechat_groups, "cell_code", [g.model_dump() for g in wechat_groups]),
            (ta.push_tokens, "person_id", [_token(p) for p in people if p.fcm_token]),
            (ot.orgs, "org_id", [org_row(o) for o in orgs]),
        ]
        threatened = [{"point_id": p.point_id, "household_id": h} for p in points for h in p.households]
        async with self.engine.begin() as conn:
            for table, key, rows in batches:
                for chunk in chunks(rows, 2000):
                    await conn.execute(self._upsert(table, [key], list(chunk)), list(chunk))
            for ids in chunks([p.point_id for p in points]):
                await conn.execute(delete(t.point_households).where(t.point_households.c.point_id.in_(ids)))
            for chunk in chunks(threatened, 2000):
                await conn.execute(t.point_households.insert(), list(chunk))
            await _replace_zone_households(conn, zones)
            untokened = [p.person_id for p in people if not p.fcm_token]  # a token taken out of the file
            for ids in chunks(untokened):
                await conn.execute(delete(ta.push_tokens).where(ta.push_tokens.c.person_id.in_(ids)))
            # In the audit log, and the signal workers reload their directory on (directory_changed_at).
            counts = {"cells": len(cells), "households": len(households), "people": len(people)}
            await conn.execute(
                t.audit_log.insert().values(
                    at=self.clock.now(),
                    actor=actor,
                    action="directory.import",
                    subject=None,
                    detail=json.dumps(
                        {
                            **counts,
                            "devices": len(devices),
                            "points": len(points),
                            "wechat_groups": len(wechat_groups),  # counted: the keys stay out of the log
                            **_skipped(skipped),
                            **(changes or {}),
                        },
                        ensure_ascii=False,
                    ),
                )
            )

    async def directory_changed_at(self) -> float | None:
        """When a directory was last imported (None: never through import_directory)."""
        a = t.audit_log.c
        async with self.engine.connect() as conn:
            res = await conn.execute(select(func.max(a.at)).where(a.action == "directory.import"))
            value = res.scalar_one_or_none()
            return float(value) if value is not None else None

    async def export_directory(
        self,
    ) -> tuple[list[Cell], list[Household], list[Person], list[Device], list[MonitoringPoint]]:
        """Everything `import_directory` stores, in a stable order (cells by level then code)."""
        order = {lv.value: i for i, lv in enumerate(Level)}
        async with self.engine.connect() as conn:
            cell_rows = (await conn.execute(select(t.cells))).all()
            cells = [
                Cell(
                    code=r.code, level=r.level, parent=r.parent, name=r.name, geometry=json.loads(r.geometry)
                )
                for r in sorted(cell_rows, key=lambda r: (order[r.level], r.code))
            ]
            homes = await conn.execute(select(t.households).order_by(t.households.c.household_id))
            households = [Household.model_validate(r._asdict()) for r in homes]
            tokens = {r[0]: r[1] for r in await conn.execute(select(ta.push_tokens))}
            rows = await conn.execute(select(t.people).order_by(t.people.c.person_id))
            people = [
                Person.model_validate({**r._asdict(), "fcm_token": tokens.get(r.person_id)}) for r in rows
            ]
            names = (
                "device_id",
                "cell_code",
                "lon",
                "lat",
                "kind",
                "drill_opt_in",
                "sig_alg",
                "responsible_id",
                "provider",
            )
            cols = [t.devices.c[n] for n in names]
            rows = await conn.execute(select(*cols).order_by(t.devices.c.device_id))
            devices = [Device.model_validate(r._asdict()) for r in rows]
            threatened: dict[str, list[str]] = {}
            rows = await conn.execute(select(t.point_households).order_by(t.point_households.c.household_id))
            for r in rows:
                threatened.setdefault(r.point_id, []).append(r.household_id)
            rows = await conn.execute(select(t.points).order_by(t.points.c.point_id))
            points = [
                MonitoringPoint.model_validate({**r._asdict(), "households": threatened.get(r.point_id, [])})
                for r in rows
            ]
        return cells, households, people, devices, points

    async def directory_rows(self) -> dict[str, Sequence[Any]]:
        """The raw rows the targeting index is built from (one query per table, no model objects:
        a 500,000-person county loads in seconds)."""
        p = t.people.c
        h = t.households.c
        async with self.engine.connect() as conn:
            return {
                "households": (
                    await conn.execute(
                        select(h.household_id, h.cell_code, h.lon, h.lat, h.members, h.vulnerable)
                    )
                ).all(),
                "people": (
                    await conn.execute(
                        select(
                            p.person_id,
                            p.household_id,
                            p.cell_code,
                            p.role,
                            p.phone,
                            p.wechat_openid,
                            p.app_token,
                            p.drill_opt_in,
                            p.phone_kind,
                            p.wecom_userid,
                        )
                    )
                ).all(),
                "devices": (
                    await conn.execute(
                        select(t.devices.c.device_id, t.devices.c.cell_code, t.devices.c.drill_opt_in)
                    )
                ).all(),
                "cells": (
                    await conn.execute(
                        select(t.cells.c.code, t.cells.c.level, t.cells.c.parent, t.cells.c.name)
                    )
                ).all(),
                "points": (await conn.execute(select(t.points))).all(),
                "village_geometry": (
                    await conn.execute(
                        select(t.cells.c.code, t.cells.c.name, t.cells.c.geometry).where(
                            t.cells.c.level == "village"
                        )
                    )
                ).all(),
                "point_households": (await conn.execute(select(t.point_households))).all(),
                "vulnerable": (await conn.execute(_register_rows())).all(),
                "wechat_groups": (
                    await conn.execute(select(ta.wechat_groups.c.cell_code, ta.wechat_groups.c.robot_key))
                ).all(),
                "push_tokens": (await conn.execute(select(ta.push_tokens))).all(),
            }

    async def villages(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(code, name, GeoJSON geometry) of every village cell."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.cells.c.code, t.cells.c.name, t.cells.c.geometry).where(t.cells.c.level == "village")
            )
            return [(r.code, r.name, json.loads(r.geometry)) for r in rows]

    async def devices_by_village(self, village_codes: Sequence[str]) -> dict[str, list[str]]:
        """Terminal ids per village (villages without terminals map to [])."""
        out: dict[str, list[str]] = {v: [] for v in village_codes}
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(out)):
                rows = await conn.execute(
                    select(t.devices.c.device_id, t.devices.c.cell_code)
                    .where(t.devices.c.cell_code.in_(chunk))
                    .order_by(t.devices.c.device_id)
                )
                for r in rows:
                    out[r.cell_code].append(r.device_id)
        return out

    async def device_sig_algs(self) -> dict[str, int]:
        """How many terminals are registered with each signature algorithm."""
        alg = t.devices.c.sig_alg
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(alg, func.count()).group_by(alg))
            return {r[0]: int(r[1]) for r in rows}

    async def device_villages(self) -> dict[str, str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.devices.c.device_id, t.devices.c.cell_code))
            return {r.device_id: r.cell_code for r in rows}


_AUDITED = 1000  # skipped rows listed in one audit entry; the count is always whole


def _skipped(skipped: Sequence[tuple[str, int, str]]) -> dict[str, Any]:
    if not skipped:
        return {}
    return {"skipped": len(skipped), "skipped_rows": [list(r) for r in skipped[:_AUDITED]]}


def _register_rows() -> Any:
    """The vulnerable register with each helper's name (visit lists and messages name them)."""
    v, p = kt.vulnerable_households.c, t.people.c
    return select(v.household_id, v.category, v.mobility, v.helper_person_id, p.name).join_from(
        kt.vulnerable_households, t.people, p.person_id == v.helper_person_id, isouter=True
    )


def _token(p: Person) -> dict[str, Any]:
    return {"person_id": p.person_id, "fcm_token": p.fcm_token}


def _zone_row(z: Zone) -> dict[str, Any]:
    return {"zone_id": z.zone_id, "name": z.name, "kind": z.kind, "geometry": json.dumps(z.geometry)}


async def _replace_zone_households(conn: Any, zones: Sequence[Zone]) -> None:
    """A zone's households are replaced by those inside it now (as a point's threatened households are)."""
    zh = et.zone_households
    for ids in chunks([z.zone_id for z in zones]):
        await conn.execute(delete(zh).where(zh.c.zone_id.in_(ids)))
    rows = [{"zone_id": z.zone_id, "household_id": h} for z in zones for h in z.households]
    for chunk in chunks(rows, 2000):
        await conn.execute(zh.insert(), list(chunk))
