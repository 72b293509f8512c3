"""The directory's organisations in memory (issue 17): per village for planning, per responsible person
for acknowledgements, and which of them a warning's areas cover."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely

from warnengine.model import Area
from warnengine.resolve.index import circle_polygon, code_prefix

POINT_PREFIX = "point:"


@dataclass(frozen=True)
class OrgEntry:
    org_id: str
    village: str
    cell: str
    kind: str
    name: str
    lon: float
    lat: float
    headcount: int
    responsible: tuple[str, ...]


@dataclass
class OrgIndex:
    by_village: dict[str, list[OrgEntry]] = field(default_factory=dict)
    by_person: dict[str, list[str]] = field(default_factory=dict)  # person id → the orgs they answer for

    @classmethod
    def build(cls, rows: Iterable[Sequence[Any]]) -> OrgIndex:
        """From the orgs table's rows (org_id, cell_code, kind, name, lon, lat, headcount, responsible)."""
        out = cls()
        for r in sorted(rows, key=lambda r: str(r[0])):
            people = tuple(p for p in str(r[7] or "").split(";") if p)
            org = OrgEntry(
                r[0], str(r[1])[:12], r[1], r[2], r[3], float(r[4]), float(r[5]), int(r[6]), people
            )
            out.by_village.setdefault(org.village, []).append(org)
            for pid in people:
                out.by_person.setdefault(pid, []).append(org.org_id)
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_village.values())


def covered_orgs(index: OrgIndex, villages: Iterable[str], areas: Iterable[Area]) -> list[OrgEntry]:
    """The orgs of the reached `villages` the areas cover: by a code naming their cell or a cell above it
    (a group, its village, township, county), or by their location inside a polygon or circle — on the
    border counts as inside, as for households. A monitoring point's code reaches its households only."""
    candidates = [o for v in sorted(villages) for o in index.by_village.get(v, [])]
    if not candidates:
        return []
    prefixes: list[str] = []
    shapes: list[shapely.Geometry] = []
    for area in areas:
        for code in (c.strip() for c in area.codes):
            if code.startswith(POINT_PREFIX):
                continue
            if len(code) in (14, 15) and code.isdigit():
                prefixes.append(code)  # a group: its own orgs only
            elif (p := code_prefix(code)) is not None:
                prefixes.append(p)
        for ring in area.polygons:
            if len(ring) >= 3:
                shapes.append(shapely.make_valid(shapely.Polygon(ring)))
        shapes += [circle_polygon(c) for c in area.circles if c.radius_km > 0]
    geom = shapely.union_all(shapes) if shapes else None
    out = []
    for o in candidates:
        by_code = any(o.cell.startswith(p) for p in prefixes)
        if by_code or (geom is not None and shapely.intersects_xy(geom, o.lon, o.lat)):
            out.append(o)
    return out
