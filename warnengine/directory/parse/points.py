"""points.csv (optional): geohazard monitoring points, each inside its cell, with a lead and the
households it threatens."""

from __future__ import annotations

from pathlib import Path

import shapely
from shapely.geometry import shape

from warnengine.directory.parse.fields import (
    POINT_FIELDS,
    Problem,
    check_cell,
    check_unique,
    data_rows,
    read_coord,
    read_header,
)
from warnengine.model import Cell, Level, MonitoringPoint, Role

# A point may sit this far outside its cell's polygon (coordinates are rounded to 6 decimals on export).
_POINT_SLACK_DEG = 2e-6


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
    if read_header(path, POINT_FIELDS, problems) is None:
        return []
    shapes: dict[str, shapely.Geometry] = {}
    for line, (pid, cell, pname, lon, lat, kind, lead, homes) in data_rows(path, POINT_FIELDS, problems):
        here = len(problems)
        check_unique(pid, seen, "point_id", name, line, problems)
        seen.add(pid)
        check_cell(cell, None, levels, name, line, problems)
        x, y = read_coord(lon, lat, name, line, problems)
        if not kind:
            problems.append((name, line, "missing kind"))
        if len(problems) == here and cell in cells:
            if cell not in shapes:
                shapes[cell] = shapely.make_valid(shape(cells[cell].geometry))
            if not shapes[cell].dwithin(shapely.Point(x, y), _POINT_SLACK_DEG):
                problems.append((name, line, f"point ({x}, {y}) is outside its cell {cell}"))
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
    """A point's lead, if it names one, is a point_lead in people.csv (unchecked if that is unusable)."""
    if not lead or roles is None:
        return
    if lead not in roles:
        problems.append((name, line, f"unknown lead_person_id {lead}"))
    elif roles[lead] is not Role.POINT_LEAD:
        problems.append((name, line, f"lead {lead} is a {roles[lead].value}, expected a point_lead"))


def _threatened(
    homes: str, household_cells: dict[str, str] | None, name: str, line: int, problems: list[Problem]
) -> tuple[str, ...]:
    """The `;`-separated household ids, each a known household (unchecked if households.csv is unusable)."""
    threatened = tuple(h for h in (h.strip() for h in homes.split(";")) if h)
    if household_cells is not None:
        for h in threatened:
            if h not in household_cells:
                problems.append((name, line, f"unknown threatened household {h}"))
    return threatened
