"""Cell codes by structure (a group is its village's code plus 2 or 3 digits, one length per county) and
boundaries that cross themselves."""

from __future__ import annotations

import json
from pathlib import Path

from warnengine.directory.parse import Problem, read_grid

SQUARE = [[114.5, 35.5], [114.6, 35.5], [114.6, 35.6], [114.5, 35.6], [114.5, 35.5]]
BOWTIE = [[114.5, 35.5], [114.6, 35.6], [114.6, 35.5], [114.5, 35.6], [114.5, 35.5]]


def grid(tmp_path: Path, cells: list[tuple[str, str, str | None]], ring: list[list[float]] = SQUARE) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "level": level, "parent": parent, "name": code},
            "geometry": {"type": "Polygon", "coordinates": [BOWTIE if code.endswith("9") else ring]},
        }
        for code, level, parent in cells
    ]
    text = '{"type":"FeatureCollection","features":[\n'
    text += ",\n".join(json.dumps(f) for f in features) + "\n]}\n"
    (tmp_path / "grid.geojson").write_text(text, encoding="utf-8")
    return tmp_path


TOP: list[tuple[str, str, str | None]] = [
    ("410526000000", "county", None),
    ("410526100000", "township", "410526000000"),
    ("410526100200", "village", "410526100000"),
]


def test_three_digit_groups(tmp_path: Path) -> None:
    problems: list[Problem] = []
    groups: list[tuple[str, str, str | None]] = [
        ("410526100200001", "group", "410526100200"),
        ("410526100200002", "group", "410526100200"),
    ]
    cells, _ = read_grid(grid(tmp_path, TOP + groups), problems)
    assert problems == [] and len(cells) == 5


def test_group_lengths_must_agree_and_prefix_their_village(tmp_path: Path) -> None:
    groups: list[tuple[str, str, str | None]] = [
        ("410526100200001", "group", "410526100200"),  # line 5
        ("410526100200002", "group", "410526100200"),  # line 6
        ("41052610020003", "group", "410526100200"),  # line 7: 2 digits among 3-digit groups
        ("410526100300004", "group", "410526100200"),  # line 8: not under its parent's code
        ("4105261002000001", "group", "410526100200"),  # line 9: 4 digits
    ]
    problems: list[Problem] = []
    read_grid(grid(tmp_path, TOP + groups), problems)
    got = {(p.line, p.message.split(" / ")[-1]) for p in problems}
    assert (
        7,
        "group code 41052610020003 has a 2-digit group number; the county's other groups have 3",
    ) in got
    assert (8, "code 410526100300004 does not start with its parent's prefix 410526100200") in got
    assert any(line == 9 and "must have 14 or 15 digits" in m for line, m in got)
    assert {line for line, _ in got} == {7, 8, 9}


def test_self_intersecting_boundary(tmp_path: Path) -> None:
    problems: list[Problem] = []
    cells, _ = read_grid(grid(tmp_path, [*TOP, ("41052610020009", "group", "410526100200")]), problems)
    [p] = problems
    assert (p.line, p.column, p.value) == (5, "geometry", "41052610020009")
    assert "Self-intersection" in p.message and len(cells) == 3
