"""shelters(.csv|.xlsx) (optional): disaster shelters (避灾安置场所), each inside its cell, with a capacity in
persons and the keeper who checks people in. Every problem is reported per row, with its column."""

from __future__ import annotations

from warnengine.directory.parse.fields import Problem, check_cell, check_unique, read_number
from warnengine.directory.parse.place import Place
from warnengine.directory.parse.tables import Table
from warnengine.model import Level, Role
from warnengine.model.evacuation import Shelter

SHELTERS_STEM = "shelters"


def read_shelters(
    table: Table | None,
    place: Place,
    levels: dict[str, Level] | None,
    roles: dict[str, Role] | None,
    problems: list[Problem],
) -> list[Shelter]:
    if table is None:
        return []
    name, out, seen = table.name, [], set[str]()
    for line, (sid, cell, sname, lon, lat, capacity, keeper) in table.rows:
        here = len(problems)
        check_unique(sid, seen, "shelter_id", name, line, problems)
        seen.add(sid)
        check_cell(cell, None, levels, name, line, problems)
        x, y, ok = place.coord(lon, lat, name, line, problems)
        if ok and len(problems) == here:
            place.inside(cell, x, y, name, line, problems)
        size = read_number(capacity, int, "capacity", name, line, problems)
        if size is not None and size <= 0:
            message = f"容纳人数须大于0 / capacity must be positive: {capacity}"
            problems.append(Problem(name, line, message, "capacity", capacity))
        if keeper and roles is not None and keeper not in roles:
            message = f"没有该管理员 / unknown keeper_person_id {keeper}"
            problems.append(Problem(name, line, message, "keeper_person_id", keeper))
        if len(problems) == here and size is not None:
            keeper_id = keeper or None
            out.append(
                Shelter(
                    shelter_id=sid,
                    cell_code=cell,
                    name=sname or sid,
                    lon=x,
                    lat=y,
                    capacity=size,
                    keeper_person_id=keeper_id,
                )
            )
    return out
