"""grid.geojson or grid.shp: one feature per cell (county, township, village, group), each under its parent.

Codes are checked by structure: townships and villages are 12-digit 统计用区划代码 under their parent's
prefix; a group is its village's code plus a 2- or 3-digit suffix, the same length across the county.
A boundary must be a valid polygon: a self-intersecting one is reported with where it crosses itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from warnengine.directory.parse.fields import GRID_FILE, Problem
from warnengine.directory.parse.shapefile import ShapefileError, shapefile_features
from warnengine.model import Cell, Level

_PARENT_LEVEL = {Level.TOWNSHIP: Level.COUNTY, Level.VILLAGE: Level.TOWNSHIP, Level.GROUP: Level.VILLAGE}
# Digits of the parent's code a child's code must start with (统计用区划代码 prefixes; groups are ours).
_PREFIX = {Level.TOWNSHIP: 6, Level.VILLAGE: 9, Level.GROUP: 12}
_CODE_LENGTH = {Level.COUNTY: (12,), Level.TOWNSHIP: (12,), Level.VILLAGE: (12,), Level.GROUP: (14, 15)}
SHAPEFILE = "grid.shp"

_LEVELS: dict[Any, Level] = {level.value: level for level in Level}


def _features_with_lines(text: str) -> list[tuple[int, Any]]:
    """Each feature of a FeatureCollection with the line it starts on (0 if it cannot be told)."""
    collection = json.loads(text)
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list):
        raise ValueError("not a GeoJSON FeatureCollection")
    lines = [0] * len(features)
    # Re-scan the features array to learn where each feature starts; any layout json.loads accepts works.
    start = re.search(r'"features"\s*:\s*\[', text)
    if start is not None:
        decoder, pos, line = json.JSONDecoder(), start.end(), 1 + text.count("\n", 0, start.end())
        for i in range(len(features)):
            skip = re.compile(r"[\s,]*").match(text, pos)
            assert skip is not None
            line += text.count("\n", pos, skip.end())
            try:
                _, end = decoder.raw_decode(text, skip.end())
            except json.JSONDecodeError:
                break
            lines[i] = line
            line += text.count("\n", skip.end(), end)
            pos = end
    return list(zip(lines, features, strict=True))


def _features(
    directory: Path, crs: str | None, encoding: str | None, problems: list[Problem]
) -> tuple[str, list[tuple[int, Any]]] | None:
    geojson, shp = directory / GRID_FILE, directory / SHAPEFILE
    if shp.is_file() and geojson.is_file():
        message = "grid.geojson 与 grid.shp 只能留一个 / both grid.geojson and grid.shp: keep one"
        problems.append(Problem(SHAPEFILE, 0, message))
        return None
    try:
        if shp.is_file():
            return SHAPEFILE, shapefile_features(shp, crs, encoding)
        return GRID_FILE, _features_with_lines(geojson.read_text(encoding="utf-8"))
    except ShapefileError as exc:
        problems.append(Problem(SHAPEFILE, 0, str(exc)))
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        problems.append(Problem(GRID_FILE, getattr(exc, "lineno", 0), f"cannot read grid: {exc}"))
    return None


def read_grid(
    directory: Path, problems: list[Problem], crs: str | None = None, encoding: str | None = None
) -> tuple[list[Cell], dict[str, Level] | None]:
    """The valid cells, and the level of every code declared with a known level (None: unreadable).
    `crs` is what --crs said (a shapefile without .prj is read in it), `encoding` the DBF's."""
    found = _features(directory, crs, encoding, problems)
    if found is None:
        return [], None
    name, features = found
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    declared: dict[str, tuple[int, Level, Any]] = {}  # code -> (line, level, parent)
    for line, feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            problems.append(Problem(name, line, "feature has no properties"))
            continue
        code, parent, cell_name = props.get("code"), props.get("parent"), props.get("name")
        level = _LEVELS.get(props.get("level"))
        here = len(problems)
        _check_feature(feature, props, level, seen, name, line, problems)
        if isinstance(code, str) and code not in seen:
            seen[code] = line
            if level is not None:
                declared[code] = (line, level, parent)
        if len(problems) == here:
            assert level is not None and isinstance(code, str) and isinstance(cell_name, str)
            cells.append(
                Cell(code=code, level=level, parent=parent, name=cell_name, geometry=feature.get("geometry"))
            )
    # Parents may come after their children in a hand-edited file, so check them once all are known.
    for code, (line, level, parent) in declared.items():
        _check_parent(code, level, parent, declared, name, line, problems)
    _check_group_suffixes(declared, name, problems)
    return cells, {code: level for code, (_, level, _) in declared.items()}


def _check_feature(
    feature: dict[str, Any],
    props: dict[str, Any],
    level: Level | None,
    seen: dict[str, int],
    name: str,
    line: int,
    problems: list[Problem],
) -> None:
    """One feature's level, code, name, parent and geometry, each on its own."""
    if level is None:
        problems.append(Problem(name, line, f"unknown level {props.get('level')!r}"))
    _check_code(props.get("code"), level, seen, name, line, problems)
    cell_name, parent = props.get("name"), props.get("parent")
    if not isinstance(cell_name, str) or not cell_name:
        problems.append(Problem(name, line, "missing name"))
    if parent is not None and not isinstance(parent, str):
        problems.append(Problem(name, line, f"bad parent {parent!r}"))
    if not _valid_geometry(feature.get("geometry")):
        problems.append(Problem(name, line, "geometry must be a GeoJSON Polygon or MultiPolygon"))
    else:
        reason = shapely.is_valid_reason(shape(feature["geometry"]))
        if reason != "Valid Geometry":
            message = f"边界无效（自相交？）/ invalid boundary: {reason}"
            problems.append(Problem(name, line, message, "geometry", str(props.get("code"))))


def _check_code(
    code: Any, level: Level | None, seen: dict[str, int], name: str, line: int, problems: list[Problem]
) -> None:
    """Digits, as many as the level's codes have, not declared before."""
    if not isinstance(code, str) or not code.isdigit():
        problems.append(Problem(name, line, f"bad code {code!r}"))
    elif level is not None and len(code) not in _CODE_LENGTH[level]:
        digits = " or ".join(str(n) for n in _CODE_LENGTH[level])
        message = f"编码位数不对 / {level.value} code {code} must have {digits} digits"
        if level is Level.GROUP:
            message += " (its village's 12 and a 2- or 3-digit group number)"
        problems.append(Problem(name, line, message, "code", code))
    elif code in seen:
        problems.append(Problem(name, line, f"duplicate code {code} (first on line {seen[code]})"))


def _check_parent(
    code: str,
    level: Level,
    parent: Any,
    declared: dict[str, tuple[int, Level, Any]],
    name: str,
    line: int,
    problems: list[Problem],
) -> None:
    if level is Level.COUNTY:
        if parent is not None:
            problems.append(Problem(name, line, f"county {code} must have a null parent"))
        return
    if parent not in declared:
        problems.append(Problem(name, line, f"unknown parent {parent!r} of {code}"))
        return
    parent_level, expected, prefix = declared[parent][1], _PARENT_LEVEL[level], parent[: _PREFIX[level]]
    if parent_level is not expected:
        problems.append(
            Problem(
                name,
                line,
                f"parent {parent} of {level.value} {code} is a {parent_level.value}, "
                f"expected a {expected.value}",
            )
        )
    elif not code.startswith(prefix):
        problems.append(Problem(name, line, f"code {code} does not start with its parent's prefix {prefix}"))


def _check_group_suffixes(
    declared: dict[str, tuple[int, Level, Any]], name: str, problems: list[Problem]
) -> None:
    """Group numbers have one length across the county: the rows that differ from the most are reported."""
    lengths: dict[int, int] = {}
    for code, (_, level, _) in declared.items():
        if level is Level.GROUP and len(code) in _CODE_LENGTH[Level.GROUP]:
            lengths[len(code)] = lengths.get(len(code), 0) + 1
    if len(lengths) < 2:
        return
    usual = max(lengths, key=lambda n: (lengths[n], -n))
    for code, (line, level, _) in declared.items():
        if level is Level.GROUP and len(code) != usual and len(code) in _CODE_LENGTH[Level.GROUP]:
            message = (
                f"村民小组编号位数与本县其他小组不一致 / group code {code} has a {len(code) - 12}-digit "
                f"group number; the county's other groups have {usual - 12}"
            )
            problems.append(Problem(name, line, message, "code", code))


def _valid_geometry(geometry: Any) -> bool:
    if not isinstance(geometry, dict):
        return False
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        return _valid_polygon(coords)
    if kind == "MultiPolygon":
        return isinstance(coords, list) and bool(coords) and all(_valid_polygon(p) for p in coords)
    return False


def _valid_polygon(rings: Any) -> bool:
    def position(p: Any) -> bool:
        return (
            isinstance(p, list)
            and len(p) >= 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        )

    return (
        isinstance(rings, list)
        and bool(rings)
        and all(
            isinstance(r, list) and len(r) >= 4 and all(position(p) for p in r) and r[0] == r[-1]
            for r in rings
        )
    )
