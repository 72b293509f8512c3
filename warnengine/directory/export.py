"""`grid export --format xlsx`: the directory's tables as workbooks an office edits and imports again.

Ids, codes and phone numbers are written as text (Excel must not turn 0816… or a 15-digit code into a
number); coordinates and counts as numbers."""

from __future__ import annotations

import csv
from pathlib import Path

from warnengine.directory.files import County, write_county

TABLES = ("households", "people", "devices", "points", "vulnerable", "orgs")
_NUMBERS = frozenset({"lon", "lat", "members", "headcount"})


def write_county_xlsx(county: County, directory: Path) -> None:
    """Like write_county, with each table as `<table>.xlsx` (one sheet named after it) instead of .csv."""
    from openpyxl import Workbook

    write_county(county, directory)
    for stem in TABLES:
        source = directory / f"{stem}.csv"
        (directory / f"{stem}.xlsx").unlink(missing_ok=True)
        if not source.is_file():
            continue
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(stem)
        with open(source, encoding="utf-8", newline="") as f:
            rows = csv.reader(f)
            header = next(rows)
            ws.append(header)
            numeric = [name in _NUMBERS for name in header]
            for row in rows:
                ws.append([float(v) if n and v else v for v, n in zip(row, numeric, strict=True)])
        wb.save(directory / f"{stem}.xlsx")
        source.unlink()
