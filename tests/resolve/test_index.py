from __future__ import annotations

import pytest
from shapely.geometry import Point, shape

from warnengine.directory import County
from warnengine.model import Area, Circle
from warnengine.resolve import VillageIndex, code_prefix
from warnengine.resolve.index import circle_polygon


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("410000000000", "41"),
        ("410500000000", "4105"),
        ("410526000000", "410526"),
        ("410526", "410526"),
        ("410526100000", "410526100"),
        ("410526100201", "410526100201"),
        ("41052610020103", "410526100201"),
        ("410526100201003", "410526100201"),  # a 3-digit group suffix
        ("4105261002010031", None),
        ("abc", None),
        ("4105", None),
    ],
)
def test_code_prefix(code: str, prefix: str | None) -> None:
    assert code_prefix(code) == prefix


def _index(county: County) -> VillageIndex:
    return VillageIndex((c.code, c.name, c.geometry) for c in county.cells if c.level == "village")


def test_codes_at_every_level(small_county: County) -> None:
    idx = _index(small_county)
    township = next(c for c in small_county.cells if c.level == "township")
    under = {c.code for c in small_county.cells if c.level == "village" and c.parent == township.code}
    assert idx.match(Area(codes=[township.code])) == under
    assert len(idx.match(Area(codes=["410526000000"]))) == 15
    assert idx.match(Area(codes=["999999999999", "garbage"])) == set()


def test_polygon_and_circle(small_county: County) -> None:
    idx = _index(small_county)
    village = next(c for c in small_county.cells if c.level == "village")
    centre = shape(village.geometry).representative_point()
    hit = idx.match(Area(circles=[Circle(lat=centre.y, lon=centre.x, radius_km=0.05)]))
    assert village.code in hit
    ring = list(shape(village.geometry).buffer(-0.001).exterior.coords)
    assert idx.match(Area(polygons=[ring])) == {village.code}
    assert idx.match_all([Area(polygons=[[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]])]) == []


def test_geodesic_circle_radius() -> None:
    poly = circle_polygon(Circle(lat=35.0, lon=114.0, radius_km=10))
    # ~10 km is ~0.0899 degrees of latitude
    assert poly.bounds[3] - 35.0 == pytest.approx(0.0899, abs=0.001)
    assert poly.contains(Point(114.0, 35.05))
