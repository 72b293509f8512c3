"""Parsing and checking the four directory files: every problem is collected with its line, none raised."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

import shapely
from shapely.geometry import shape

from warnengine.model import Cell, Device, Household, Level, MonitoringPoint, Person, Role
from warnengine.model.grid import SigAlg

GRID_FILE = "grid.geojson"
HOUSEHOLDS_FILE = "households.csv"
PEOPLE_FILE = "people.csv"
DEVICES_FILE = "devices.csv"
POINTS_FILE = "points.csv"  # optional: a county without geohazard points has none

HOUSEHOLD_FIELDS = ("household_id", "cell_code", "lon", "lat", "members", "vulnerable")
PEOPLE_FIELDS = (
    "person_id",
    "household_id",
    "cell_code",
    "name",
    "role",
    "phone",
    "wechat_openid",
    "app_token",
)
DEVICE_FIELDS = ("device_id", "cell_code", "lon", "lat", "kind")
POINT_FIELDS = ("point_id", "cell_code", "name", "lon", "lat", "kind", "lead_person_id", "households")
# Optional trailing column of people.csv and devices.csv (older exports lack it).
OPT_IN_FIELD = "drill_opt_in"
# Optional column of devices.csv after drill_opt_in: how the terminal's commands are signed.
SIG_ALG_FIELD = "sig_alg"
SIG_ALGS = get_args(SigAlg)  # ed25519 (the default) | sm2-sm3
# A point may sit this far outside its cell's polygon (coordinates are rounded to 6 decimals on export).
_POINT_SLACK_DEG = 2e-6

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_PARENT_LEVEL = {Level.TOWNSHIP: Level.COUNTY, Level.VILLAGE: Level.TOWNSHIP, Level.GROUP: Level.VILLAGE}
# Digits of the parent's code a child's code must start with (统计用区划代码 prefixes; groups are ours).
_PREFIX = {Level.TOWNSHIP: 6, Level.VILLAGE: 9, Level.GROUP: 12}
_CODE_LENGTH = {Level.COUNTY: 12, Level.TOWNSHIP: 12, Level.VILLAGE: 12, Level.GROUP: 14}

_LEVELS: dict[Any, Level] = {level.value: level for level in Level}
_ROLES = {role.value: role for role in Role}

Problem = tuple[str, int, str]
_Num = TypeVar("_Num", int, float)


# --- grid ----------------------------------------------------------------------------------------


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


def read_grid(path: Path, problems: list[Problem]) -> tuple[list[Cell], dict[str, Level] | None]:
    """The valid cells, and the level of every code declared with a known level (None: unreadable)."""
    name = path.name
    try:
        features = _features_with_lines(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        problems.append((name, getattr(exc, "lineno", 0), f"cannot read grid: {exc}"))
        return [], None
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    declared: dict[str, tuple[int, Level, Any]] = {}  # code -> (line, level, parent)
    for line, feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            problems.append((name, line, "feature has no properties"))
            continue
        code, parent, cell_name = props.get("code"), props.get("parent"), props.get("name")
        level = _LEVELS.get(props.get("level"))
        here = len(problems)
        if level is None:
            problems.append((name, line, f"unknown level {props.get('level')!r}"))
        if not isinstance(code, str) or not code.isdigit():
            problems.append((name, line, f"bad code {code!r}"))
        elif level is not None and len(code) != _CODE_LENGTH[level]:
            problems.append((name, line, f"{level.value} code {code} must have {_CODE_LENGTH[level]} digits"))
        elif code in seen:
            problems.append((name, line, f"duplicate code {code} (first on line {seen[code]})"))
        if not isinstance(cell_name, str) or not cell_name:
            problems.append((name, line, "missing name"))
        if parent is not None and not isinstance(parent, str):
            problems.append((name, line, f"bad parent {parent!r}"))
        geometry = feature.get("geometry")
        if not _valid_geometry(geometry):
            problems.append((name, line, "geometry must be a GeoJSON Polygon or MultiPolygon"))
        if isinstance(code, str) and code not in seen:
            seen[code] = line
            if level is not None:
                declared[code] = (line, level, parent)
        if len(problems) == here:
            assert level is not None and isinstance(code, str) and isinstance(cell_name, str)
            cells.append(Cell(code=code, level=level, parent=parent, name=cell_name, geometry=geometry))
    # Parents may come after their children in a hand-edited file, so check them once all are known.
    for code, (line, level, parent) in declared.items():
        _check_parent(code, level, parent, declared, name, line, problems)
    return cells, {code: level for code, (_, level, _) in declared.items()}


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
            problems.append((name, line, f"county {code} must have a null parent"))
        return
    if parent not in declared:
        problems.append((name, line, f"unknown parent {parent!r} of {code}"))
        return
    parent_level, expected, prefix = declared[parent][1], _PARENT_LEVEL[level], parent[: _PREFIX[level]]
    if parent_level is not expected:
        problems.append(
            (
                name,
                line,
                f"parent {parent} of {level.value} {code} is a {parent_level.value}, "
                f"expected a {expected.value}",
            )
        )
    elif not code.startswith(prefix):
        problems.append((name, line, f"code {code} does not start with its parent's prefix {prefix}"))


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


# --- csv files -----------------------------------------------------------------------------------


def _readable(
    path: Path, header: tuple[str, ...], problems: list[Problem], optional: tuple[str, ...] = ()
) -> tuple[str, ...] | None:
    """The file's header if `path` exists and has `header` followed by any of `optional`, in that
    order; else None, reported."""
    if not path.is_file():
        problems.append((path.name, 0, "file is missing"))
        return None
    with open(path, encoding="utf-8", newline="") as f:
        found = tuple(next(csv.reader(f), ()))
    if found[: len(header)] != header or list(found[len(header) :]) != [
        f for f in optional if f in found[len(header) :]
    ]:
        extra = f" (optionally followed by {','.join(optional)})" if optional else ""
        problems.append((path.name, 1, f"header must be {','.join(header)}{extra}"))
        return None
    return found


def _rows(path: Path, header: tuple[str, ...], problems: list[Problem]) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of each data row with the right number of fields; reports the others."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if len(row) != len(header):
                if any(row):
                    message = f"expected {len(header)} fields, got {len(row)}"
                    problems.append((path.name, reader.line_num, message))
                continue
            yield reader.line_num, row


def _opt_in(row: list[str], width: int, default: bool, name: str, line: int, problems: list[Problem]) -> bool:
    """The optional drill_opt_in field after the first `width` fields."""
    if len(row) == width or row[width] == "":
        return default
    if row[width] not in ("0", "1"):
        problems.append((name, line, f"drill_opt_in must be 0 or 1, got {row[width]!r}"))
    return row[width] == "1"


def _sig_alg(row: list[str], index: int, name: str, line: int, problems: list[Problem]) -> SigAlg:
    """The optional sig_alg field at `index` (default ed25519)."""
    if len(row) <= index or row[index] == "":
        return "ed25519"
    if row[index] not in SIG_ALGS:
        problems.append((name, line, f"sig_alg must be {' or '.join(SIG_ALGS)}, got {row[index]!r}"))
        return "ed25519"
    return cast(SigAlg, row[index])


def read_households(
    path: Path, levels: dict[str, Level] | None, problems: list[Problem]
) -> tuple[list[Household], dict[str, str] | None]:
    """The valid households, and the cell of every household id seen (None: the file is unusable)."""
    name, out, declared = path.name, [], dict[str, str]()
    if _readable(path, HOUSEHOLD_FIELDS, problems) is None:
        return [], None
    for line, (hid, cell, lon, lat, members, vulnerable) in _rows(path, HOUSEHOLD_FIELDS, problems):
        here = len(problems)
        _unique(hid, declared.keys(), "household_id", name, line, problems)
        declared.setdefault(hid, cell)
        _cell(cell, Level.GROUP, levels, name, line, problems)
        x, y = _coord(lon, lat, name, line, problems)
        n = _number(members, int, "members", name, line, problems)
        if n is not None and n < 0:
            problems.append((name, line, f"members must be >= 0, got {n}"))
        if vulnerable not in ("0", "1"):
            problems.append((name, line, f"vulnerable must be 0 or 1, got {vulnerable!r}"))
        if len(problems) == here:
            assert n is not None
            out.append(
                Household(
                    household_id=hid, cell_code=cell, lon=x, lat=y, members=n, vulnerable=vulnerable == "1"
                )
            )
    return out, declared


def read_people(
    path: Path,
    levels: dict[str, Level] | None,
    household_cells: dict[str, str] | None,
    problems: list[Problem],
) -> list[Person]:
    name, out, seen = path.name, [], set[str]()
    header = _readable(path, PEOPLE_FIELDS, problems, (OPT_IN_FIELD,))
    if header is None:
        return []
    width = len(PEOPLE_FIELDS)
    for line, row in _rows(path, header, problems):
        pid, hid, cell, pname, role, phone, openid, token = row[:width]
        here = len(problems)
        opt_in = _opt_in(row, width, False, name, line, problems)
        _unique(pid, seen, "person_id", name, line, problems)
        seen.add(pid)
        _cell(cell, None, levels, name, line, problems)
        role_ = _ROLES.get(role)
        if role_ is None:
            problems.append((name, line, f"unknown role {role!r}"))
        if not pname:
            problems.append((name, line, "missing name"))
        if phone and not PHONE_RE.match(phone):
            problems.append((name, line, f"phone {phone!r} is not E.164 (+8613812345678)"))
        if role_ is Role.RESIDENT and not hid:
            problems.append((name, line, "a resident needs a household_id"))
        elif household_cells is None or not hid:
            pass
        elif hid not in household_cells:
            problems.append((name, line, f"unknown household {hid}"))
        elif role_ is Role.RESIDENT and household_cells[hid] != cell:
            problems.append(
                (name, line, f"resident's cell {cell} is not their household's cell {household_cells[hid]}")
            )
        if len(problems) == here:
            assert role_ is not None
            out.append(
                Person(
                    person_id=pid,
                    household_id=hid or None,
                    cell_code=cell,
                    name=pname,
                    role=role_,
                    phone=phone or None,
                    wechat_openid=openid or None,
                    app_token=token or None,
                    drill_opt_in=opt_in,
                )
            )
    return out


def read_devices(path: Path, levels: dict[str, Level] | None, problems: list[Problem]) -> list[Device]:
    name, out, seen = path.name, [], set[str]()
    header = _readable(path, DEVICE_FIELDS, problems, (OPT_IN_FIELD, SIG_ALG_FIELD))
    if header is None:
        return []
    width = len(DEVICE_FIELDS)
    # Either optional column may be left out (an absent column has an index past the row's end).
    opt_in_at = header.index(OPT_IN_FIELD) if OPT_IN_FIELD in header else len(header)
    sig_alg_at = header.index(SIG_ALG_FIELD) if SIG_ALG_FIELD in header else len(header)
    for line, row in _rows(path, header, problems):
        did, cell, lon, lat, kind = row[:width]
        here = len(problems)
        opt_in = _opt_in(row, opt_in_at, True, name, line, problems)
        sig_alg = _sig_alg(row, sig_alg_at, name, line, problems)
        _unique(did, seen, "device_id", name, line, problems)
        seen.add(did)
        _cell(cell, Level.VILLAGE, levels, name, line, problems)
        x, y = _coord(lon, lat, name, line, problems)
        if not kind:
            problems.append((name, line, "missing kind"))
        if len(problems) == here:
            out.append(
                Device(
                    device_id=did,
                    cell_code=cell,
                    lon=x,
                    lat=y,
                    kind=kind,
                    drill_opt_in=opt_in,
                    sig_alg=sig_alg,
                )
            )
    return out


def read_points(
    path: Path,
    cells: dict[str, Cell],
    levels: dict[str, Level] | None,
    household_cells: dict[str, str] | None,
    roles: dict[str, Role] | None,
    problems: list[Problem],
) -> list[MonitoringPoint]:
    """Monitoring points; `households` is a `;`-separated list of the threatened households' ids."""
    if not path.is_file():
        return []
    name, out, seen = path.name, [], set[str]()
    if _readable(path, POINT_FIELDS, problems) is None:
        return []
    shapes: dict[str, shapely.Geometry] = {}
    for line, (pid, cell, pname, lon, lat, kind, lead, homes) in _rows(path, POINT_FIELDS, problems):
        here = len(problems)
        _unique(pid, seen, "point_id", name, line, problems)
        seen.add(pid)
        _cell(cell, None, levels, name, line, problems)
        x, y = _coord(lon, lat, name, line, problems)
        if not kind:
            problems.append((name, line, "missing kind"))
        if len(problems) == here and cell in cells:
            if cell not in shapes:
                shapes[cell] = shapely.make_valid(shape(cells[cell].geometry))
            if not shapes[cell].dwithin(shapely.Point(x, y), _POINT_SLACK_DEG):
                problems.append((name, line, f"point ({x}, {y}) is outside its cell {cell}"))
        if lead and roles is not None:
            if lead not in roles:
                problems.append((name, line, f"unknown lead_person_id {lead}"))
            elif roles[lead] is not Role.POINT_LEAD:
                problems.append((name, line, f"lead {lead} is a {roles[lead].value}, expected a point_lead"))
        threatened = tuple(h for h in (h.strip() for h in homes.split(";")) if h)
        if household_cells is not None:
            for h in threatened:
                if h not in household_cells:
                    problems.append((name, line, f"unknown threatened household {h}"))
        if len(problems) == here:
            out.append(
                MonitoringPoint(
                    point_id=pid,
                    cell_code=cell,
                    name=pname or pid,
                    lon=x,
                    lat=y,
                    kind=kind,
                    lead_person_id=lead or None,
                    households=threatened,
                )
            )
    return out


def _unique(
    value: str, seen: Container[str], field: str, name: str, line: int, problems: list[Problem]
) -> None:
    if not value:
        problems.append((name, line, f"missing {field}"))
    elif value in seen:
        problems.append((name, line, f"duplicate {field} {value}"))


def _cell(
    code: str,
    level: Level | None,
    levels: dict[str, Level] | None,
    name: str,
    line: int,
    problems: list[Problem],
) -> None:
    if levels is None:  # the grid is unreadable and already reported: don't flag every row
        return
    actual = levels.get(code)
    if actual is None:
        problems.append((name, line, f"unknown cell {code!r}"))
    elif level is not None and actual is not level:
        problems.append((name, line, f"cell {code} is a {actual.value}, expected a {level.value}"))


def _coord(lon: str, lat: str, name: str, line: int, problems: list[Problem]) -> tuple[float, float]:
    x = _number(lon, float, "lon", name, line, problems)
    y = _number(lat, float, "lat", name, line, problems)
    if x is not None and not -180 <= x <= 180:
        problems.append((name, line, f"lon {x} out of range"))
    if y is not None and not -90 <= y <= 90:
        problems.append((name, line, f"lat {y} out of range"))
    return x or 0.0, y or 0.0


def _number(
    text: str, kind: type[_Num], field: str, name: str, line: int, problems: list[Problem]
) -> _Num | None:
    try:
        value = kind(text)
    except ValueError:
        problems.append((name, line, f"bad number in {field}: {text!r}"))
        return None
    if value != value or value in (float("inf"), float("-inf")):  # NaN / inf parse as floats
        problems.append((name, line, f"bad number in {field}: {text!r}"))
        return None
    return value
