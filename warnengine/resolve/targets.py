"""From a warning's areas to the villages and households inside them.

Whole villages come from administrative codes; polygons and circles are decided household by household
(a village the area only clips is reached where its households are inside, not by its outline), and a
monitoring point's code reaches the households it threatens. Bad geometry is reported in words, never
raised: the caller decides whether a warning that targets nobody may go on (it may not, silently).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon

from warnengine.model import Area, Level
from warnengine.resolve.directory import Directory
from warnengine.resolve.index import circle_polygon, code_prefix

POINT_PREFIX = "point:"
_NO_AREA = 1e-10  # square degrees, about 1 m²: less is a line or a dot, not an area
Indices = NDArray[np.int64]


@dataclass
class Reach:
    households: dict[str, Indices] = field(default_factory=dict)  # village → indices into its Homes
    villages: set[str] = field(default_factory=set)  # every village reached, with or without households
    points: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, village: str, indices: Indices | None) -> None:
        self.villages.add(village)
        if indices is None or not len(indices):
            return
        have = self.households.get(village)
        self.households[village] = indices if have is None else np.union1d(have, indices)

    @property
    def empty(self) -> bool:
        return not self.villages


def resolve_areas(directory: Directory, areas: Iterable[Area]) -> Reach:
    reach = Reach()
    shapes: list[shapely.Geometry] = []
    for area in areas:
        named = [
            c for c in area.codes if c.startswith(POINT_PREFIX) and c[len(POINT_PREFIX) :] in directory.points
        ]
        for ring in area.polygons:
            geom = _polygon(ring, directory, reach.problems)
            if geom is not None:
                shapes.append(geom)
        for c in area.circles if not named else ():  # a known point's households replace its circle
            if c.radius_km <= 0:
                reach.problems.append(f"circle at {c.lat},{c.lon} has radius 0 and covers nobody: not used")
            else:
                shapes.append(circle_polygon(c))
        for code in area.codes:
            _by_code(directory, code.strip(), reach)
    if shapes:
        _by_geometry(directory, shapely.union_all(shapes), reach)
    return reach


def _polygon(
    ring: list[tuple[float, float]], directory: Directory, problems: list[str]
) -> shapely.Geometry | None:
    pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    if len({(x, y) for x, y in pts.tolist()}) < 3:
        problems.append("polygon has fewer than 3 distinct points: not used")
        return None
    bounds = directory.villages.bounds
    in_range = bool(np.abs(pts[:, 0]).max() <= 180 and np.abs(pts[:, 1]).max() <= 90)
    misplaced = bounds is not None and (
        not in_range or not shapely.box(*Polygon(pts).bounds).intersects(bounds)
    )
    if misplaced and Polygon(pts[:, ::-1]).intersects(bounds):  # read the other way round, it is ours
        problems.append("polygon coordinates look swapped (lat,lon given as lon,lat): not used")
        return None
    if not in_range:
        problems.append("polygon has coordinates out of range (lon ±180, lat ±90): not used")
        return None
    poly: shapely.Geometry = Polygon(pts)
    if not poly.is_valid:
        reason = shapely.is_valid_reason(poly)
        poly = shapely.make_valid(poly)
        if poly.area >= _NO_AREA:
            problems.append(f"polygon is not simple ({reason}): repaired, its inside as make_valid reads it")
    if poly.area < _NO_AREA:
        problems.append("polygon has no area (its points are on one line): not used")
        return None
    return poly


def _by_code(directory: Directory, code: str, reach: Reach) -> None:
    if code.startswith(POINT_PREFIX):
        point = directory.points.get(code[len(POINT_PREFIX) :])
        if point is None:
            reach.problems.append(f"monitoring point {code[len(POINT_PREFIX) :]!r} is not in the directory")
            return
        reach.points.append(point.point_id)
        where = [directory.household_index[h] for h in point.households if h in directory.household_index]
        for village in {v for v, _ in where} or {point.village}:
            reach.add(village, np.array(sorted(i for v, i in where if v == village), dtype=np.int64))
        return
    cell = directory.cells.get(code)
    if cell is not None and cell.level is Level.GROUP:
        village = code[:12]
        homes = directory.homes.get(village)
        if homes is not None:
            reach.add(village, np.array([i for i, c in enumerate(homes.cells) if c == code], dtype=np.int64))
        else:
            reach.add(village, None)
        return
    villages = directory.villages.by_code(code) if code_prefix(code) else set()
    if not villages:
        reach.problems.append(f"area code {code!r} matches no cell in the directory")
        return
    for village in villages:
        homes = directory.homes.get(village)
        reach.add(village, np.arange(len(homes), dtype=np.int64) if homes is not None else None)


def _by_geometry(directory: Directory, geom: shapely.Geometry, reach: Reach) -> None:
    shapely.prepare(geom)
    for i in directory.villages.query(geom):
        village = directory.villages.codes[i]
        homes = directory.homes.get(village)
        if homes is None or not len(homes):
            reach.add(village, None)  # no households on record: its outline is all we know
        elif geom.covers(directory.villages.geoms[i]):
            reach.add(village, np.arange(len(homes), dtype=np.int64))
        else:
            # On the border counts as inside: warning one household too many beats one too few.
            inside = np.nonzero(shapely.intersects_xy(geom, homes.lon, homes.lat))[0]
            if len(inside):
                reach.add(village, inside.astype(np.int64))
