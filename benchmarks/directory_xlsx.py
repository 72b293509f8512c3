"""`grid import` of a county kept as xlsx, against openpyxl alone reading the same workbooks.

A generated county (warnengine.directory.generate_county) is written with `write_county_xlsx`
(households, people, devices, points as .xlsx; grid.geojson as is). Per run, both sides read the same
files, interleaved so that they share the machine's noise: ours is `check_county` (every table read with
openpyxl in read-only mode, headers matched, phones parsed with phonenumbers, points checked to lie in
their cells, every reference checked: all `grid import` does before writing to the database), the limit
is openpyxl read-only iterating every row's values of the same workbooks. Times are CPU seconds of this
single-threaded process; medians over `--runs`. The target (issue 20) is a ratio of at most 2.

    .venv/bin/python benchmarks/directory_xlsx.py                 # 150 villages, ~36,000 people
    .venv/bin/python benchmarks/directory_xlsx.py --villages 2300 # ~500,000 residents (minutes)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from warnengine.directory import County, check_county, generate_county
from warnengine.directory.export import write_county_xlsx


def openpyxl_alone(directory: Path) -> int:
    """Rows read: every value of every workbook, read-only, as the floor for any xlsx import."""
    rows = 0
    for path in sorted(directory.glob("*.xlsx")):
        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            for _ in wb.worksheets[0].iter_rows(values_only=True):
                rows += 1
        finally:
            wb.close()
    return rows


def ours(directory: Path) -> int:
    county, problems = check_county(directory)
    if problems:
        raise AssertionError(problems[:5])
    return len(county.households) + len(county.people) + len(county.devices) + len(county.points)


def cpu(fn: Any, directory: Path) -> tuple[float, int]:
    start = time.process_time()
    n = fn(directory)
    return time.process_time() - start, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--villages", type=int, default=150, help="2300 gives ~500,000 residents")
    p.add_argument("--townships", type=int, default=None, help="default: villages / 11, 13 to 100")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    townships = args.townships or min(100, max(13, args.villages // 11))  # the generator's 1-100
    county: County = generate_county(townships=townships, villages=args.villages)
    residents = sum(1 for x in county.people if x.role.value == "resident")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_county_xlsx(county, directory)
        size = sum(f.stat().st_size for f in directory.glob("*.xlsx"))
        mine, theirs = [], []
        for _ in range(args.runs):
            t, rows = cpu(ours, directory)
            mine.append(t)
            t, _ = cpu(openpyxl_alone, directory)
            theirs.append(t)
    m, t = statistics.median(mine), statistics.median(theirs)
    print(f"grid import check {m:.2f} s, openpyxl alone {t:.2f} s: ratio {m / t:.2f} (target <= 2)")
    result = {
        "benchmark": "directory_xlsx",
        "villages": args.villages,
        "households": len(county.households),
        "people": len(county.people),
        "residents": residents,
        "rows_imported": rows,
        "xlsx_bytes": size,
        "runs": args.runs,
        "import_check_cpu_s": round(m, 3),
        "openpyxl_read_cpu_s": round(t, 3),
        "ratio": round(m / t, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
