"""What `grid import` tells the office about a directory's problems: a short summary for the terminal
(counts by file and column, the first rows) and the full list as a file to open beside the data (CSV in
UTF-8 with BOM, which Excel opens in Chinese, or xlsx), one problem a row: file, row, column, value,
reason."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from warnengine.directory.parse import Problem

HEADER = ("文件 file", "行 row", "列 column", "值 value", "原因 reason")
_SHOWN = 10


def summary(problems: list[Problem], shown: int = _SHOWN) -> list[str]:
    """Lines for the terminal: problems counted by file and column, then the first `shown`."""
    counts = Counter((p.file, p.column or "-") for p in problems)
    lines = [f"{len(problems)} 个问题 / problem(s):"]
    lines += [f"  {n:>7}  {file} {column}" for (file, column), n in counts.most_common()]
    lines.append("前几个 / first:")
    lines += [f"  {p.file}:{p.line}: {p.message}" for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  … 另有 / and {len(problems) - shown} more")
    return lines


def write_errors(problems: list[Problem], path: Path) -> None:
    """The full list at `path`: .xlsx if it ends so, else CSV (UTF-8 with BOM)."""
    rows = [(p.file, p.line, p.column, p.value, p.message) for p in problems]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("errors")
        ws.append(HEADER)
        for row in rows:
            # A value is written as text: an id like 0816… or 1e5 must read back as it was given.
            ws.append([row[0], row[1], row[2], str(row[3]), row[4]])
        wb.save(path)
        return
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
