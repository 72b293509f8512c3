"""A spatial index of village polygons (shapely STRtree) plus administrative-code prefix lookup."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import shapely
from shapely.geometry import Polygon, shape
from shapely.strtree import STRtree

from warnengine.model import Area, Circle

EARTH_RADIUS_KM = 6371.0088
# Significant digits of a 12-digit code per level: province, city, county, township, village.
_LEVEL_DIGITS = (2, 4, 6, 9, 12)


NOT_A_CODE = "not an administrative code (12 digits, 14 or 15 for a group, or 6 for a county)"


def code_prefix(code: str) -> str | None:
    """The prefix every cell under `code` shares: 410526100000 (a township) → 410526100.

    Group codes (a village code + a 2- or 3-digit suffix: 14 or 15 digits) resolve to their village.
    Returns None for anything that is not an administrative code.
    """
    code = code.strip()
    if not code.isdigit():
        return None
    if len(code) in (14, 15):
        return code[:12]
    if len(code) == 6:  # the short county-level code some feeds use
        code += "000000"
    if len(code) != 12:
        return None
    for n in _LEVEL_DIGITS:
        if set(code[n:]) <= {"0"}:
            return code[:n]
    return code


def circle_polygon(c: Circle, segments: int = 64) -> Polygon:
    """A geodesic circle on the sphere as a polygon in (lon, lat); radius 0 becomes a ~10 m dot."""
    radius = max(c.radius_km, 0.01) / EARTH_RADIUS_KM
    lat1, lon1 = math.radians(c.lat), math.radians(c.lon)
    pts = []
    for i in range(segments):
        brg = 2 * math.pi * i / segments
        lat2 = math.asin(
            math.sin(lat1) * math.cos(radius) + math.cos(lat1) * math.sin(radius) * math.cos(brg)
        )
        lon2 = lon1 + math.atan2(
            math.sin(brg) * math.sin(radius) * math.cos(lat1),
            math.cos(radius) - math.sin(lat1) * math.sin(lat2),
        )
        pts.append((math.degrees(lon2), math.degrees(lat2)))
    return Polygon(pts)


class VillageIndex:
    def __init__(self, villages: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        self.codes: list[str] = []
        self.names: dict[str, str] = {}
        geoms = []
        for code, name, geometry in villages:
            self.codes.append(code)
            self.names[code] = name
            geoms.append(shapely.make_valid(shape(geometry)))
        self.geoms = geoms
        self._tree = STRtree(geoms)
        self._sorted = sorted(self.codes)
        # The county's extent, to tell a polygon in the wrong place from one with lat and lon swapped.
        self.bounds = shapely.box(*shapely.total_bounds(geoms)) if geoms else None

    def __len__(self) -> int:
        return len(self.codes)

    def query(self, geom: shapely.Geometry) -> list[int]:
        """Indices of the villages whose outline intersects `geom`."""
        return [int(i) for i in self._tree.query(geom, predicate="intersects")]

    def by_geometry(self, geom: shapely.Geometry) -> set[str]:
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        idx = self._tree.query(geom, predicate="intersects")
        return {self.codes[i] for i in idx}

    def by_code(self, code: str) -> set[str]:
        prefix = code_prefix(code)
        if prefix is None:
            return set()
        return {c for c in self._sorted if c.startswith(prefix)}

    def match(self, area: Area) -> set[str]:
        out: set[str] = set()
        for ring in area.polygons:
            out |= self.by_geometry(Polygon(ring))
        for circle in area.circles:
            out |= self.by_geometry(circle_polygon(circle))
        for code in area.codes:
            out |= self.by_code(code)
        return out

    def match_all(self, areas: Iterable[Area]) -> list[str]:
        out: set[str] = set()
        for a in areas:
            out |= self.match(a)
        return sorted(out)
