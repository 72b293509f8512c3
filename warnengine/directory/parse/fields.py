"""What the directory files share: their names and columns, and the checks of one field of a csv row.

Every check reports a problem as (file, line, message) and goes on; none raises.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import NamedTuple, TypeVar, cast, get_args

from warnengine.directory.parse.columns import flag
from warnengine.model import Level
from warnengine.model.grid import Provider, SigAlg

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
SHELTER_FIELDS = ("shelter_id", "cell_code", "name", "lon", "lat", "capacity", "keeper_person_id")
ORG_FIELDS = ("org_id", "cell_code", "kind", "name", "lon", "lat", "headcount", "responsible")
POINT_FIELDS = ("point_id", "cell_code", "name", "lon", "lat", "kind", "lead_person_id", "households")
# Optional trailing column of people.csv and devices.csv (older exports lack it).
OPT_IN_FIELD = "drill_opt_in"
# Optional column of people.csv: a second app-push token (FCM) when app_token is a JPush registration id.
FCM_FIELD = "fcm_token"
# Optional column of people.csv: a staff member's WeCom userid (企业微信账号).
WECOM_FIELD = "wecom_userid"
# Optional column of devices.csv after drill_opt_in: how the terminal's commands are signed.
SIG_ALG_FIELD = "sig_alg"
# Optional column of devices.csv: the person responsible for the terminal (专人, a person_id).
RESPONSIBLE_FIELD = "responsible_id"
SIG_ALGS = get_args(SigAlg)  # ed25519 (the default) | sm2-sm3
# Optional column of devices.csv: mqtt (the default) | eb (the county's emergency-broadcast platform).
PROVIDER_FIELD = "provider"
PROVIDERS = get_args(Provider)

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")


class Problem(NamedTuple):
    """One problem of the directory: where (file, line: a CSV line or spreadsheet row, 0 for the whole
    file), why, and if it is about one cell, its column and value (what the error file lists)."""

    file: str
    line: int
    message: str
    column: str = ""
    value: str = ""


_Num = TypeVar("_Num", int, float)


def read_opt_in(
    row: list[str], width: int, default: bool, name: str, line: int, problems: list[Problem]
) -> bool:
    """The optional drill_opt_in field after the first `width` fields (是/否 as well as 1/0)."""
    if len(row) == width or row[width] == "":
        return default
    value = flag(row[width])
    if value not in ("0", "1"):
        message = f"drill_opt_in must be 0 or 1, got {row[width]!r}"
        problems.append(Problem(name, line, message, OPT_IN_FIELD, row[width]))
    return value == "1"


def read_sig_alg(row: list[str], index: int, name: str, line: int, problems: list[Problem]) -> SigAlg:
    """The optional sig_alg field at `index` (default ed25519)."""
    if len(row) <= index or row[index] == "":
        return "ed25519"
    if row[index] not in SIG_ALGS:
        message = f"sig_alg must be {' or '.join(SIG_ALGS)}, got {row[index]!r}"
        problems.append(Problem(name, line, message, SIG_ALG_FIELD, row[index]))
        return "ed25519"
    return cast(SigAlg, row[index])


def read_provider(row: list[str], index: int, name: str, line: int, problems: list[Problem]) -> Provider:
    """The optional provider field at `index` (default mqtt)."""
    if len(row) <= index or row[index] == "":
        return "mqtt"
    value = row[index].strip().lower()
    if value not in PROVIDERS:
        message = f"接入方式 / provider must be {' or '.join(PROVIDERS)}, got {row[index]!r}"
        problems.append(Problem(name, line, message, PROVIDER_FIELD, row[index]))
        return "mqtt"
    return cast(Provider, value)


def check_unique(
    value: str, seen: Container[str], field: str, name: str, line: int, problems: list[Problem]
) -> None:
    if not value:
        problems.append(Problem(name, line, f"缺少 / missing {field}", field))
    elif value in seen:
        problems.append(Problem(name, line, f"重复的编号 / duplicate {field} {value}", field, value))


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
        problems.append(Problem(name, line, f"网格中没有该编码 / unknown cell {code!r}", "cell_code", code))
    elif level is not None and actual is not level:
        message = f"网格级别不对 / cell {code} is a {actual.value}, expected a {level.value}"
        problems.append(Problem(name, line, message, "cell_code", code))


def read_coord(lon: str, lat: str, name: str, line: int, problems: list[Problem]) -> tuple[float, float]:
    x = read_number(lon, float, "lon", name, line, problems)
    y = read_number(lat, float, "lat", name, line, problems)
    if x is not None and not -180 <= x <= 180:
        problems.append(Problem(name, line, f"经度超出范围 / lon {x} out of range", "lon", lon))
    if y is not None and not -90 <= y <= 90:
        problems.append(Problem(name, line, f"纬度超出范围 / lat {y} out of range", "lat", lat))
    return x or 0.0, y or 0.0


def read_number(
    text: str, kind: type[_Num], field: str, name: str, line: int, problems: list[Problem]
) -> _Num | None:
    try:
        value = kind(text)
    except ValueError:
        problems.append(Problem(name, line, f"不是数字 / bad number in {field}: {text!r}", field, text))
        return None
    if value != value or value in (float("inf"), float("-inf")):  # NaN / inf parse as floats
        problems.append(Problem(name, line, f"不是数字 / bad number in {field}: {text!r}", field, text))
        return None
    return value
