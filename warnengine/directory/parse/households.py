"""households(.csv|.xlsx): one row per household, in a group cell, inside it."""

from __future__ import annotations

from warnengine.directory.parse.columns import flag
from warnengine.directory.parse.fields import (
    Problem,
    check_cell,
    check_unique,
    read_number,
)
from warnengine.directory.parse.place import Place
from warnengine.directory.parse.tables import Table
from warnengine.model import Household, Level


def read_households(
    table: Table | None, levels: dict[str, Level] | None, place: Place, problems: list[Problem]
) -> tuple[list[Household], dict[str, str] | None]:
    """The valid households, and the cell of every household id seen (None: the file is unusable)."""
    if table is None:
        return [], None
    name, out, declared = table.name, [], dict[str, str]()
    for line, (hid, cell, lon, lat, members, vulnerable) in table.rows:
        here = len(problems)
        check_unique(hid, declared.keys(), "household_id", name, line, problems)
        declared.setdefault(hid, cell)
        check_cell(cell, Level.GROUP, levels, name, line, problems)
        x, y, ok = place.coord(lon, lat, name, line, problems)
        if ok and len(problems) == here:
            place.inside(cell, x, y, name, line, problems)
        n = read_number(members, int, "members", name, line, problems)
        if n is not None and n < 0:
            problems.append(Problem(name, line, f"members must be >= 0, got {n}", "members", members))
        vulnerable = flag(vulnerable)
        if vulnerable not in ("0", "1"):
            problems.append(
                Problem(
                    name, line, f"vulnerable must be 0 or 1, got {vulnerable!r}", "vulnerable", vulnerable
                )
            )
        if len(problems) == here:
            assert n is not None
            out.append(
                Household(
                    household_id=hid, cell_code=cell, lon=x, lat=y, members=n, vulnerable=vulnerable == "1"
                )
            )
    return out, declared
