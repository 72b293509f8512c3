"""people.csv: residents, cadres and point leads, each in a cell; a resident in their household's."""

from __future__ import annotations

from pathlib import Path

from warnengine.directory.parse.fields import (
    OPT_IN_FIELD,
    PEOPLE_FIELDS,
    PHONE_RE,
    Problem,
    check_cell,
    check_unique,
    data_rows,
    read_header,
    read_opt_in,
)
from warnengine.model import Level, Person, Role

_ROLES = {role.value: role for role in Role}


def read_people(
    path: Path,
    levels: dict[str, Level] | None,
    household_cells: dict[str, str] | None,
    problems: list[Problem],
) -> list[Person]:
    name, out, seen = path.name, [], set[str]()
    header = read_header(path, PEOPLE_FIELDS, problems, (OPT_IN_FIELD,))
    if header is None:
        return []
    width = len(PEOPLE_FIELDS)
    for line, row in data_rows(path, header, problems):
        pid, hid, cell, pname, role, phone, openid, token = row[:width]
        here = len(problems)
        opt_in = read_opt_in(row, width, False, name, line, problems)
        check_unique(pid, seen, "person_id", name, line, problems)
        seen.add(pid)
        check_cell(cell, None, levels, name, line, problems)
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
