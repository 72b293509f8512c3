"""households.csv: one row per household, in a group cell."""

from __future__ import annotations

from pathlib import Path

from warnengine.directory.parse.fields import (
    HOUSEHOLD_FIELDS,
    Problem,
    check_cell,
    check_unique,
    data_rows,
    read_coord,
    read_header,
    read_number,
)
from warnengine.model import Household, Level


def read_households(
    path: Path, levels: dict[str, Level] | None, problems: list[Problem]
) -> tuple[list[Household], dict[str, str] | None]:
    """The valid households, and the cell of every household id seen (None: the file is unusable)."""
    name, out, declared = path.name, [], dict[str, str]()
    if read_header(path, HOUSEHOLD_FIELDS, problems) is None:
        return [], None
    for line, (hid, cell, lon, lat, members, vulnerable) in data_rows(path, HOUSEHOLD_FIELDS, problems):
        here = len(problems)
        check_unique(hid, declared.keys(), "household_id", name, line, problems)
        declared.setdefault(hid, cell)
        check_cell(cell, Level.GROUP, levels, name, line, problems)
        x, y = read_coord(lon, lat, name, line, problems)
        n = read_number(members, int, "members", name, line, problems)
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
