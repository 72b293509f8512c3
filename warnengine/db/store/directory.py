"""The county directory: cells, households, people, devices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import (
    Cell,
    Device,
    Household,
    Person,
)


class DirectoryQueries(StoreBase):
    async def import_directory(
        self, cells: list[Cell], households: list[Household], people: list[Person], devices: list[Device]
    ) -> None:
        """Load or update a county's directory in place (re-import overwrites by id)."""
        batches: list[tuple[Table, str, list[dict[str, Any]]]] = [
            (t.cells, "code", [{**c.model_dump(), "geometry": json.dumps(c.geometry)} for c in cells]),
            (t.households, "household_id", [h.model_dump() for h in households]),
            (t.people, "person_id", [p.model_dump(mode="json") for p in people]),
            (t.devices, "device_id", [d.model_dump() for d in devices]),
        ]
        async with self.engine.begin() as conn:
            for table, key, rows in batches:
                for chunk in chunks(rows, 2000):
                    await conn.execute(self._upsert(table, [key], list(chunk)), list(chunk))

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

    async def device_villages(self) -> dict[str, str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.devices.c.device_id, t.devices.c.cell_code))
            return {r.device_id: r.cell_code for r in rows}
