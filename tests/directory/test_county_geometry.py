from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from warnengine.directory.geometry import (
    Frame,
    _absorb_fragments,
    _clipped_voronoi,
    partition,
    uniform_points,
)

# A U-shaped parent: the Voronoi cell of a seed above the notch reaches into both arms.
U_SHAPE = box(0, 0, 10, 10).difference(box(3, 3, 7, 10))


def test_fragments_go_to_neighbours() -> None:
    seeds = np.array([[0.5, 9.0], [9.5, 9.0], [5.0, 8.0], [5.0, 1.5], [1.5, 5.0], [8.5, 5.0]])
    raw = _clipped_voronoi(U_SHAPE, seeds)
    assert any(isinstance(c, MultiPolygon) for c in raw)
    cells = _absorb_fragments(raw)
    assert len(cells) == len(seeds)
    assert all(isinstance(c, Polygon) and c.is_valid for c in cells)
    assert abs(sum(c.area for c in cells) - U_SHAPE.area) < 1e-9
    assert shapely.union_all(cells).symmetric_difference(U_SHAPE).area < 1e-9


def test_partition_tiles_parent() -> None:
    cells, seeds = partition(np.random.default_rng(3), U_SHAPE, 12)
    assert len(cells) == len(seeds) == 12
    assert all(c.is_valid and c.area > 0 for c in cells)
    assert shapely.contains_xy(U_SHAPE, seeds[:, 0], seeds[:, 1]).all()
    assert abs(sum(c.area for c in cells) - U_SHAPE.area) < 1e-9


def test_points_and_frame() -> None:
    points = uniform_points(np.random.default_rng(1), U_SHAPE, 500)
    assert points.shape == (500, 2) and shapely.contains_xy(U_SHAPE, points[:, 0], points[:, 1]).all()
    frame = Frame(114.52, 35.58)
    square = frame.to_lonlat(box(-5, -5, 5, 5))  # 10 km across
    x0, y0, x1, y1 = square.bounds
    assert abs((x1 - x0) * 111.32 * np.cos(np.radians(35.58)) - 10) < 0.01
    assert abs((y1 - y0) * 110.574 - 10) < 0.01
    assert all(round(v, 6) == v for v in shapely.get_coordinates(square).ravel())
