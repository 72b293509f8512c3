"""points(.csv|.xlsx) (optional): monitoring points, each inside its cell, with a lead (点长) and the
households it threatens. A point is of any kind — a geohazard (滑坡, 泥石流, 崩塌), a flood-prone spot
(易涝点), a river crossing (涉水点), a reservoir (水库)…: the same mechanism serves them all (its alarm,
or a warning covering it, gives its lead a task door by door, escalate/first_doors.py). Chinese kinds are
stored by their English name (POINT_KINDS); any other kind is kept as written."""

from __future__ import annotations

from warnengine.directory.parse.fields import (
    POINT_FIELDS,
    Problem,
    check_cell,
    check_unique,
)
from warnengine.directory.parse.place import Place
from warnengine.directory.parse.tables import Table
from warnengine.model import Level, MonitoringPoint, Role

POINT_KINDS = {
    "滑坡": "landslide",
    "泥石流": "debris_flow",
    "崩塌": "collapse",
    "地面塌陷": "subsidence",
    "地质灾害隐患点": "geohazard",
    "易涝点": "flood_prone",
    "低洼易涝区": "flood_prone",
    "内涝点": "flood_prone",
    "涉水点": "river_crossing",
    "过河点": "river_crossing",
    "漫水桥": "river_crossing",
    "水库": "reservoir",
    "山塘": "reservoir",
    "山洪沟": "flash_flood",
    "山洪": "flash_flood",
}


def read_points(
    table: Table | None,
    place: Place,
    levels: dict[str, Level] | None,
    household_cells: dict[str, str] | None,
    roles: dict[str, Role] | None,
    problems: list[Problem],
) -> list[MonitoringPoint]:
    """Monitoring points; `households` is a `;`-separated list of the threatened households' ids."""
    if table is None:
        return []
    name, out, seen = table.name, [], set[str]()
    assert table.header[: len(POINT_FIELDS)] == POINT_FIELDS
    for line, (pid, cell, pname, lon, lat, kind, lead, homes) in table.rows:
        here = len(problems)
        check_unique(pid, seen, "point_id", name, line, problems)
        seen.add(pid)
        check_cell(cell, None, levels, name, line, problems)
        x, y, ok = place.coord(lon, lat, name, line, problems)
        kind = POINT_KINDS.get(kind.strip(), kind.strip())
        if not kind:
            problems.append(Problem(name, line, "缺少类型 / missing kind", "kind"))
        if ok and len(problems) == here:
            place.inside(cell, x, y, name, line, problems)
        _check_lead(lead, roles, name, line, problems)
        threatened = _threatened(homes, household_cells, name, line, problems)
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


def _check_lead(
    lead: str, roles: dict[str, Role] | None, name: str, line: int, problems: list[Problem]
) -> None:
    """A point's lead, if it names one, is a point_lead in people (unchecked if that is unusable)."""
    if not lead or roles is None:
        return
    if lead not in roles:
        problems.append(
            Problem(name, line, f"没有该责任人 / unknown lead_person_id {lead}", "lead_person_id", lead)
        )
    elif roles[lead] is not Role.POINT_LEAD:
        message = f"责任人不是监测员 / lead {lead} is a {roles[lead].value}, expected a point_lead"
        problems.append(Problem(name, line, message, "lead_person_id", lead))


def _threatened(
    homes: str, household_cells: dict[str, str] | None, name: str, line: int, problems: list[Problem]
) -> tuple[str, ...]:
    """The `;`-separated household ids (；、 too), each a known household (unchecked if households is
    unusable)."""
    threatened = tuple(
        h for h in (h.strip() for h in homes.replace("；", ";").replace("、", ";").split(";")) if h
    )
    if household_cells is not None:
        for h in threatened:
            if h not in household_cells:
                message = f"没有该户 / unknown threatened household {h}"
                problems.append(Problem(name, line, message, "households", h))
    return threatened
