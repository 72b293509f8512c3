"""A hand-drawn county small enough to check every answer by eye.

lat
35.03 ┌──────── V3 ────────┐
      │   ┌─ V4 (hole) ─┐  │      V1: split by areas (h3 sits exactly on lon 114.005)
35.02 │h6 │    h8       │  │      V2: a MultiPolygon of two squares
      │   └─────────────┘  │      V3: a square with a hole, which is V4
35.01 ├──── V1 ───┬── V2a ─┤  ┌ V2b ┐
      │ h2        │  h4    │  │ h5  │
      │   h3      │        │  │     │
      │h1         │        │  │     │
35.00 └───────────┴────────┘  └─────┘
    114.00     114.01    114.02 114.03 114.04   lon
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from warnengine.resolve.directory import Directory

COUNTY, TOWN = "410526000000", "410526100000"
V1, V2, V3, V4 = "410526100001", "410526100002", "410526100003", "410526100004"


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


GEOMETRY: dict[str, dict[str, Any]] = {
    V1: {"type": "Polygon", "coordinates": [square(114.00, 35.00, 114.01, 35.01)]},
    V2: {
        "type": "MultiPolygon",
        "coordinates": [[square(114.01, 35.00, 114.02, 35.01)], [square(114.03, 35.00, 114.04, 35.01)]],
    },
    V3: {
        "type": "Polygon",
        "coordinates": [square(114.00, 35.01, 114.02, 35.03), square(114.005, 35.015, 114.015, 35.025)],
    },
    V4: {"type": "Polygon", "coordinates": [square(114.005, 35.015, 114.015, 35.025)]},
}
HOUSEHOLDS = [  # id, group cell, lon, lat, members, vulnerable
    ("h1", V1 + "01", 114.002, 35.002, 2, False),
    ("h2", V1 + "01", 114.008, 35.008, 3, False),
    ("h3", V1 + "02", 114.005, 35.005, 1, True),
    ("h4", V2 + "01", 114.015, 35.005, 4, False),
    ("h5", V2 + "02", 114.035, 35.005, 1, True),
    ("h6", V3 + "01", 114.002, 35.020, 2, False),
    ("h8", V4 + "01", 114.010, 35.020, 2, False),
]
# person id, household, cell, role, phone, openid, app token, drill opt-in
PEOPLE = [
    ("p01", None, COUNTY, "dispatcher", "+8613800000001", "o1", "t1", True),
    ("p02", None, TOWN, "grid_head", "+8613800000002", None, None, True),
    ("p03", None, V1, "grid_head", "+8613800000003", None, None, True),
    ("p04", "h2", V1 + "01", "group_leader", "+8613800000004", None, None, True),
    ("p05", None, V1, "point_lead", "+8613800000005", None, None, True),
    ("p10", "h1", V1 + "01", "resident", "+8613800000010", "o10", None, False),
    ("p11", "h1", V1 + "01", "resident", None, None, None, False),
    ("p12", "h3", V1 + "02", "resident", "+8613800000012", None, "t12", True),
    ("p13", "h4", V2 + "01", "resident", "+8613800000013", None, None, False),
    ("p14", "h5", V2 + "02", "resident", None, None, None, False),
    ("p15", "h6", V3 + "01", "resident", "+8613800000015", None, None, False),
    ("p16", "h8", V4 + "01", "resident", "+8613800000016", None, None, False),
]
DEVICES = [("spk-1", V1, True), ("spk-2", V2, False), ("spk-3", V3, True), ("spk-4", V4, True)]
POINTS = [("gp1", V1, "滑坡隐患点1号", 114.001, 35.009, "landslide", "p05")]
POINT_HOUSEHOLDS = [("gp1", "h2"), ("gp1", "h3")]


def hand_directory(people: Sequence[Sequence[object]] | None = None) -> Directory:
    cells = [(COUNTY, "county", None, "示范县"), (TOWN, "township", COUNTY, "城关镇")]
    cells += [(v, "village", TOWN, f"村{v[-1]}") for v in (V1, V2, V3, V4)]
    cells += [(g, "group", g[:12], f"组{g[-2:]}") for g in sorted({h[1] for h in HOUSEHOLDS})]
    villages = [(v, f"村{v[-1]}", GEOMETRY[v]) for v in (V1, V2, V3, V4)]
    rows = PEOPLE if people is None else people
    return Directory.build(villages, cells, HOUSEHOLDS, rows, DEVICES, POINTS, POINT_HOUSEHOLDS)
