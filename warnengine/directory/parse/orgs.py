"""orgs(.csv|.xlsx) (optional): organisations — schools, kindergartens, enterprises, construction sites,
scenic spots… (单位) — each at a location inside its cell, with a headcount and its responsible persons
(person ids of people.csv, several separated by ";"). Every problem is reported per row, with its column."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from warnengine.directory.parse.fields import ORG_FIELDS, Problem, check_cell, check_unique, read_number
from warnengine.directory.parse.place import Place
from warnengine.directory.parse.tables import Table
from warnengine.model import Level, Role
from warnengine.model.org import KIND_ALIASES, Org, OrgKind

ORGS_STEM = "orgs"
_SEPARATORS = re.compile(r"[;；,，、\s]+")  # as spreadsheets write lists: ; ， 、 or spaces


def read_orgs(
    table: Table | None,
    place: Place,
    levels: dict[str, Level] | None,
    roles: dict[str, Role] | None,
    problems: list[Problem],
) -> list[Org]:
    if table is None:
        return []
    name, out, seen = table.name, [], set[str]()
    for line, (oid, cell, kind, oname, lon, lat, headcount, responsible) in table.rows:
        here = len(problems)
        check_unique(oid, seen, "org_id", name, line, problems)
        seen.add(oid)
        check_cell(cell, None, levels, name, line, problems)
        if levels is not None and levels.get(cell) not in (None, Level.GROUP, Level.VILLAGE):
            message = f"单位须在村或组网格内 / an org's cell must be a village or a group: {cell}"
            problems.append(Problem(name, line, message, "cell_code", cell))
        x, y, ok = place.coord(lon, lat, name, line, problems)
        if ok and len(problems) == here:
            place.inside(cell, x, y, name, line, problems)
        what = _kind(kind, name, line, problems)
        size = read_number(headcount, int, "headcount", name, line, problems)
        if size is not None and size < 0:
            message = f"人数不能为负 / headcount must be >= 0: {headcount}"
            problems.append(Problem(name, line, message, "headcount", headcount))
        persons = tuple(dict.fromkeys(p for p in _SEPARATORS.split(responsible) if p))
        for pid in persons:
            if roles is not None and pid not in roles:
                message = f"没有该负责人 / unknown responsible person {pid}"
                problems.append(Problem(name, line, message, "responsible", pid))
        if len(problems) == here and size is not None and what is not None:
            out.append(
                Org(
                    org_id=oid,
                    cell_code=cell,
                    kind=what,
                    name=oname or oid,
                    lon=x,
                    lat=y,
                    headcount=size,
                    responsible=persons,
                )
            )
    return out


def _kind(text: str, name: str, line: int, problems: list[Problem]) -> OrgKind | None:
    value = KIND_ALIASES.get(text.strip(), text.strip().lower())
    try:
        return OrgKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in OrgKind)
        message = f"单位类型不对 / bad kind {text!r} (one of {kinds}, or 学校/幼儿园/企业/工地/景区…)"
        problems.append(Problem(name, line, message, "kind", text))
        return None


def write_orgs(orgs: list[Org], directory: Path) -> None:
    """orgs.csv as read_orgs reads it; none: a stale file goes (an export must not keep it)."""
    path = directory / f"{ORGS_STEM}.csv"
    if not orgs:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(ORG_FIELDS)
        writer.writerows(
            (
                o.org_id,
                o.cell_code,
                o.kind.value,
                o.name,
                round(o.lon, 6),
                round(o.lat, 6),
                o.headcount,
                ";".join(o.responsible),
            )
            for o in orgs
        )
