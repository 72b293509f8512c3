from __future__ import annotations

import itertools
import math
import random

import pytest

from tests.resolve.hand_county import (
    COUNTY,
    DEVICES,
    GEOMETRY,
    HOUSEHOLDS,
    PEOPLE,
    TOWN,
    V1,
    V2,
    V3,
    V4,
    hand_directory,
    square,
)
from warnengine.directory import County
from warnengine.model import Area, Circle
from warnengine.resolve.directory import Directory
from warnengine.resolve.targets import Reach, resolve_areas


@pytest.fixture(scope="module")
def directory() -> Directory:
    return hand_directory()


def households(d: Directory, reach: Reach) -> set[str]:
    return {d.homes[v].ids[i] for v, idx in reach.households.items() for i in idx.tolist()}


def ring(coords: list[list[float]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in coords]


def test_three_digit_group_codes_are_targets(directory: Directory) -> None:
    """Many local systems number groups village code + 3 digits (15 in all)."""

    def wide(code: object) -> object:
        return f"{str(code)[:12]}0{str(code)[12:]}" if isinstance(code, str) and len(code) == 14 else code

    homes = [(h, wide(g), *rest) for h, g, *rest in HOUSEHOLDS]
    people = [(p, h, wide(c), *rest) for p, h, c, *rest in PEOPLE]
    cells = [(COUNTY, "county", None, "示范县"), (TOWN, "township", COUNTY, "城关镇")]
    cells += [(v, "village", TOWN, f"村{v[-1]}") for v in (V1, V2, V3, V4)]
    cells += [(str(g), "group", str(g)[:12], f"组{str(g)[-3:]}") for g in sorted({str(h[1]) for h in homes})]
    villages = [(v, f"村{v[-1]}", GEOMETRY[v]) for v in (V1, V2, V3, V4)]
    wide_directory = Directory.build(villages, cells, homes, people, DEVICES, [], [])
    reach = resolve_areas(wide_directory, [Area(codes=[V1 + "002"])])
    assert households(wide_directory, reach) == {"h3"} and reach.villages == {V1} and not reach.problems


def test_a_cell_split_by_the_area_is_decided_by_its_households(directory: Directory) -> None:
    reach = resolve_areas(directory, [Area(polygons=[ring(square(114.0, 35.0, 114.005, 35.01))])])
    # h3 lies exactly on the area's edge (lon 114.005): on the border counts as inside.
    assert households(directory, reach) == {"h1", "h3"}
    # V2 and V3 touch the area's edges but none of their households is inside: not reached.
    assert reach.villages == {V1} and not reach.problems


def test_multipolygon_cell_reached_in_the_part_the_area_covers(directory: Directory) -> None:
    reach = resolve_areas(directory, [Area(polygons=[ring(square(114.029, 34.99, 114.05, 35.02))])])
    assert households(directory, reach) == {"h5"} and reach.villages == {V2}


def test_holes_belong_to_the_cell_inside_them(directory: Directory) -> None:
    hole = resolve_areas(directory, [Area(polygons=[ring(square(114.006, 35.016, 114.014, 35.024))])])
    assert households(directory, hole) == {"h8"} and hole.villages == {V4}
    # The area around V3 (hole included) covers V3 whole and V4; V1/V2 only share an edge with it.
    around = resolve_areas(directory, [Area(polygons=[ring(square(114.0, 35.01, 114.02, 35.03))])])
    assert households(directory, around) == {"h6", "h8"} and around.villages == {V3, V4}


def test_codes_at_every_level(directory: Directory) -> None:
    assert households(directory, resolve_areas(directory, [Area(codes=[TOWN])])) == {
        "h1", "h2", "h3", "h4", "h5", "h6", "h8"
    }  # fmt: skip
    assert resolve_areas(directory, [Area(codes=[COUNTY])]).villages == {V1, V2, V3, V4}
    assert households(directory, resolve_areas(directory, [Area(codes=[V2])])) == {"h4", "h5"}
    assert households(directory, resolve_areas(directory, [Area(codes=[V1 + "02"])])) == {"h3"}
    assert households(directory, resolve_areas(directory, [Area(codes=["410526"])])) == {
        "h1", "h2", "h3", "h4", "h5", "h6", "h8"
    }  # fmt: skip


def test_unknown_codes_are_reported_and_reach_nobody(directory: Directory) -> None:
    reach = resolve_areas(directory, [Area(codes=["410527100001", "abc", "point:nope"])])
    assert reach.empty
    assert reach.problems == [
        "area code '410527100001' matches no cell in the directory",
        "area code 'abc' matches no cell in the directory",
        "monitoring point 'nope' is not in the directory",
    ]


def test_monitoring_point_reaches_its_threatened_households(directory: Directory) -> None:
    reach = resolve_areas(directory, [Area(codes=["point:gp1"])])
    assert households(directory, reach) == {"h2", "h3"} and reach.points == ["gp1"]


def test_geodesic_circle(directory: Directory) -> None:
    # h1 (114.002, 35.002) and h3 (114.005, 35.005) are 427 m apart on the ground.
    small = resolve_areas(directory, [Area(circles=[Circle(lat=35.002, lon=114.002, radius_km=0.4)])])
    assert households(directory, small) == {"h1"}
    large = resolve_areas(directory, [Area(circles=[Circle(lat=35.002, lon=114.002, radius_km=0.45)])])
    assert households(directory, large) == {"h1", "h3"}


@pytest.mark.parametrize(
    ("area", "problem"),
    [
        (Area(circles=[Circle(lat=35.002, lon=114.002, radius_km=0)]), "radius 0"),
        (Area(polygons=[ring([[35.0, 114.0], [35.01, 114.0], [35.01, 114.01], [35.0, 114.0]])]), "swapped"),
        (Area(polygons=[ring([[114.0, 35.0], [114.01, 35.01], [114.02, 35.02], [114.0, 35.0]])]), "no area"),
        (Area(polygons=[ring([[114.0, 35.0], [114.0, 35.0], [114.0, 35.0], [114.0, 35.0]])]), "fewer than 3"),
        (
            Area(polygons=[ring([[214.0, 35.0], [114.01, 35.01], [114.02, 35.0], [214.0, 35.0]])]),
            "out of range",
        ),
        (Area(polygons=[ring([[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.0]])]), None),
    ],
)
def test_bad_areas_reach_nobody_with_a_reason(directory: Directory, area: Area, problem: str | None) -> None:
    reach = resolve_areas(directory, [area])
    assert reach.empty
    if problem is None:  # a valid polygon elsewhere in China: no problem with it, it just reaches nobody
        assert reach.problems == []
    else:
        assert len(reach.problems) == 1 and problem in reach.problems[0]


def test_self_intersecting_polygon_is_repaired_and_said_so(directory: Directory) -> None:
    bowtie = [(114.0, 35.0), (114.01, 35.0095), (114.01, 35.0), (114.0, 35.0095), (114.0, 35.0)]
    reach = resolve_areas(directory, [Area(polygons=[bowtie])])
    assert len(reach.problems) == 1 and "Self-intersection" in reach.problems[0]
    # Its two triangles meet at (114.005, 35.00475): h1 is in the left one; h3 (just above the crossing)
    # and h2 (just above the right one) are not. An unrepaired bow tie has zero area and holds nobody.
    assert households(directory, reach) == {"h1"}


def inside(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    """Ray casting, written here so the check does not share code with what it checks."""
    hit = False
    for (x1, y1), (x2, y2) in itertools.pairwise(poly):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def test_counts_match_an_independent_point_in_polygon_count(small_county: County) -> None:
    from tests.plan.conftest import directory_of

    d = directory_of(small_county)
    lons = [h.lon for h in small_county.households]
    lats = [h.lat for h in small_county.households]
    rng = random.Random(4)
    for _ in range(25):
        cx, cy = rng.uniform(min(lons), max(lons)), rng.uniform(min(lats), max(lats))
        n = rng.randint(3, 9)
        angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(n))
        poly = [
            (cx + rng.uniform(0.005, 0.05) * math.cos(a), cy + rng.uniform(0.005, 0.05) * math.sin(a))
            for a in angles
        ]
        poly.append(poly[0])
        reach = resolve_areas(d, [Area(polygons=[poly])])
        expected = {h.household_id for h in small_county.households if inside(h.lon, h.lat, poly)}
        assert households(d, reach) == expected


def test_a_known_point_replaces_its_fallback_circle(directory: Directory) -> None:
    # A point alarm carries the point's code and a circle around it, for directories that lack the point.
    circle = Circle(lat=35.009, lon=114.001, radius_km=1.0)  # would cover all of V1
    known = resolve_areas(directory, [Area(codes=["point:gp1"], circles=[circle])])
    assert households(directory, known) == {"h2", "h3"}
    unknown = resolve_areas(directory, [Area(codes=["point:gp9"], circles=[circle])])
    assert households(directory, unknown) >= {"h1", "h2", "h3"}
    assert unknown.problems == ["monitoring point 'gp9' is not in the directory"]
