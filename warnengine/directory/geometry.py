"""Planar geometry for the synthetic county: outline, nested Voronoi partitions, point sampling.

Partitions are built in a local kilometre frame (x east, y north) so cells have natural proportions.
Cells are converted to (lon, lat) rounded to 6 decimals *before* anything is placed in them, so a point
found inside a cell here is inside the cell exactly as written to grid.geojson.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

Cellular: TypeAlias = Polygon | MultiPolygon
Points: TypeAlias = NDArray[np.float64]

_KM_PER_DEG_LAT = 110.574
_POLYGON = 3  # shapely geometry type id


@dataclass(frozen=True)
class Frame:
    """Equirectangular projection around the county centre: scale error under 0.3% across 50 km."""

    lon0: float
    lat0: float

    @property
    def km_per_deg(self) -> NDArray[np.float64]:
        return np.array([111.320 * math.cos(math.radians(self.lat0)), _KM_PER_DEG_LAT])

    def to_lonlat(self, geom: Cellular) -> Cellular:
        origin = np.array([self.lon0, self.lat0])
        lonlat = shapely.transform(geom, lambda xy: xy / self.km_per_deg + origin)
        # set_precision keeps the result valid on the 1e-6 grid; np.round then makes every coordinate
        # the same double that round(x, 6) -> json -> float gives back, so a read-back county is equal.
        snapped = shapely.set_precision(lonlat, 1e-6)
        return _polygonal(shapely.transform(snapped, lambda xy: np.round(xy, 6)))

    def point_to_lonlat(self, xy: Points) -> Points:
        return np.asarray(np.round(xy / self.km_per_deg + np.array([self.lon0, self.lat0]), 6))


def county_outline(rng: np.random.Generator, radius_km: float = 25.0, vertices: int = 96) -> Polygon:
    """A star-convex polygon: a low-order Fourier wobble of the radius plus per-vertex jitter."""
    step = 2 * math.pi / vertices
    theta = np.arange(vertices) * step + rng.uniform(-0.3, 0.3, vertices) * step
    wobble = np.zeros(vertices)
    for k in range(2, 7):  # amplitudes sum to at most ~0.5, so the radius stays positive
        wobble += rng.uniform(0.02, 0.35 / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    radius = radius_km * (1 + wobble) * rng.uniform(0.96, 1.04, vertices)
    return Polygon(np.column_stack([radius * np.cos(theta), radius * np.sin(theta)]))


def uniform_points(rng: np.random.Generator, region: BaseGeometry, n: int) -> Points:
    """`n` points strictly inside `region`, by rejection sampling from its bounding box in batches."""
    shapely.prepare(region)
    x0, y0, x1, y1 = region.bounds
    found: list[Points] = []
    have = 0
    while have < n:
        xy = rng.uniform((x0, y0), (x1, y1), (max(2 * (n - have), 16), 2))
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
    return np.concatenate(found)[:n]


def clustered_points(
    rng: np.random.Generator,
    region: BaseGeometry,
    n: int,
    centre: Points,
    sigma: Points,
    decimals: int = 6,
) -> Points:
    """`n` points in `region` (lon, lat), Gaussian around `centre` like a village settlement.

    Points are rounded before the containment test so the rounded (written) point is the one inside.
    Falls back to uniform sampling if the cluster centre sits awkwardly outside a thin region.
    """
    shapely.prepare(region)
    found: list[Points] = []
    have = 0
    for _ in range(30):
        xy = np.round(rng.normal(centre, sigma, (max(2 * (n - have), 8), 2)), decimals)
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
        if have >= n:
            return np.concatenate(found)[:n]
    while have < n:
        xy = np.round(uniform_points(rng, region, n - have), decimals)
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
    return np.concatenate(found)[:n]


def partition(
    rng: np.random.Generator, parent: Cellular, n: int, lloyd: int = 2
) -> tuple[list[Cellular], Points]:
    """Split `parent` into `n` Voronoi cells; returns the cells and their seeds (inside the parent).

    A few Lloyd iterations (seed → centroid of its cell) even out the sizes the way real
    administrative areas are, without making them look like a honeycomb.
    """
    seeds = uniform_points(rng, parent, n)
    if n == 1:
        return [parent], seeds
    for iteration in range(lloyd + 1):
        cells = _clipped_voronoi(parent, seeds)
        if iteration == lloyd:
            break
        centroids = shapely.get_coordinates(shapely.centroid(cells))
        inside = shapely.contains_xy(parent, centroids[:, 0], centroids[:, 1])
        seeds = np.where(inside[:, None], centroids, seeds)
    return _absorb_fragments(cells), seeds


def _clipped_voronoi(parent: Cellular, seeds: Points) -> list[Cellular]:
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=parent, ordered=True)
    regions = shapely.get_parts(diagram)
    if len(regions) != len(seeds):
        raise ValueError("Voronoi diagram lost a seed (duplicate points?)")
    return [_polygonal(g) for g in shapely.intersection(regions, parent)]


def _absorb_fragments(cells: list[Cellular]) -> list[Cellular]:
    """Give every part but the largest of a multi-part cell to the neighbour sharing most border.

    Clipping a convex Voronoi cell to a non-convex parent can leave slivers on the far side of a
    bay; real cells rarely have such exclaves. A fragment with no neighbour stays where it is.
    """
    cells = list(cells)
    for i, cell in enumerate(cells):
        if not isinstance(cell, MultiPolygon):
            continue
        parts = sorted(cell.geoms, key=lambda p: -p.area)
        keep = [parts[0]]
        for part in parts[1:]:
            border = [
                0.0 if j == i else shapely.intersection(part.boundary, other.boundary).length
                for j, other in enumerate(cells)
            ]
            j = int(np.argmax(border))
            if border[j] > 0:
                cells[j] = _polygonal(shapely.union(cells[j], part))
            else:
                keep.append(part)
        cells[i] = _polygonal(MultiPolygon(keep))
    return cells


def _polygonal(geom: BaseGeometry) -> Cellular:
    """The polygonal part of `geom` as a Polygon, or a MultiPolygon only if it has several parts."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == _POLYGON and p.area > 0]
    if not parts:
        raise ValueError("cell has no area")
    if len(parts) == 1:
        return Polygon(parts[0])
    return MultiPolygon(parts)


def to_geojson(geom: Cellular) -> dict[str, Any]:
    """GeoJSON dict with plain lists, so it compares equal to what json.load gives back."""

    def ring(coords: Any) -> list[list[float]]:
        return [[float(x), float(y)] for x, y in coords]

    def polygon(p: Polygon) -> list[list[list[float]]]:
        return [ring(p.exterior.coords)] + [ring(r.coords) for r in p.interiors]

    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": polygon(geom)}
    return {"type": "MultiPolygon", "coordinates": [polygon(p) for p in geom.geoms]}


def elevation(xy: Points, phases: tuple[float, float, float]) -> NDArray[np.float64]:
    """A made-up relief (km frame): a regional slope plus rolling hills, used to rank villages."""
    direction, p1, p2 = phases
    slope = xy[:, 0] * math.cos(direction) + xy[:, 1] * math.sin(direction)
    return np.asarray(slope / 25 + 0.4 * np.sin(xy[:, 0] / 6 + p1) * np.cos(xy[:, 1] / 8 + p2))
