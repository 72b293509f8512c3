"""What the directory files share: their names and columns, and the checks of one field of a csv row.

Every check reports a problem as (file, line, message) and goes on; none raises.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Container, Iterator
from pathlib import Path
from typing import TypeVar, cast, get_args

from warnengine.model import Level
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

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")

Problem = tuple[str, int, str]
_Num = TypeVar("_Num", int, float)


def read_header(
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


def data_rows(
    path: Path, header: tuple[str, ...], problems: list[Problem]
) -> Iterator[tuple[int, list[str]]]:
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


def read_opt_in(
    row: list[str], width: int, default: bool, name: str, line: int, problems: list[Problem]
) -> bool:
    """The optional drill_opt_in field after the first `width` fields."""
    if len(row) == width or row[width] == "":
        return default
    if row[width] not in ("0", "1"):
        problems.append((name, line, f"drill_opt_in must be 0 or 1, got {row[width]!r}"))
    return row[width] == "1"


def read_sig_alg(row: list[str], index: int, name: str, line: int, problems: list[Problem]) -> SigAlg:
    """The optional sig_alg field at `index` (default ed25519)."""
    if len(row) <= index or row[index] == "":
        return "ed25519"
    if row[index] not in SIG_ALGS:
        problems.append((name, line, f"sig_alg must be {' or '.join(SIG_ALGS)}, got {row[index]!r}"))
        return "ed25519"
    return cast(SigAlg, row[index])


def check_unique(
    value: str, seen: Container[str], field: str, name: str, line: int, problems: list[Problem]
) -> None:
    if not value:
        problems.append((name, line, f"missing {field}"))
    elif value in seen:
        problems.append((name, line, f"duplicate {field} {value}"))


def check_cell(
    code: str,
    level: Level | None,
    levels: dict[str, Level] | None,
    name: str,
    line: int,
    problems: list[Problem],
) -> None:
    """`code` is a cell of the grid, and of `level` if given."""
    if levels is None:  # the grid is unreadable and already reported: don't flag every row
        return
    actual = levels.get(code)
    if actual is None:
        problems.append((name, line, f"unknown cell {code!r}"))
    elif level is not None and actual is not level:
        problems.append((name, line, f"cell {code} is a {actual.value}, expected a {level.value}"))


def read_coord(lon: str, lat: str, name: str, line: int, problems: list[Problem]) -> tuple[float, float]:
    x = read_number(lon, float, "lon", name, line, problems)
    y = read_number(lat, float, "lat", name, line, problems)
    if x is not None and not -180 <= x <= 180:
        problems.append((name, line, f"lon {x} out of range"))
    if y is not None and not -90 <= y <= 90:
        problems.append((name, line, f"lat {y} out of range"))
    return x or 0.0, y or 0.0


def read_number(
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
