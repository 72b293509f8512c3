"""A directory table as the county keeps it: `<stem>.csv` or `<stem>.xlsx`, read into rows of text in
the project's column order, whatever order and header language the file uses.

CSV encodings are detected (UTF-8, UTF-8 with BOM, else charset-normalizer among GB18030/Big5/UTF-16) or
given; xlsx is read with openpyxl in read-only mode, values not formulas (see xlsx.py). Title rows above
the header are skipped, unknown columns ignored, empty rows skipped; every problem is reported with its
file, line (the spreadsheet's row number), column and value.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from warnengine.directory.parse.columns import lookup, normalise
from warnengine.directory.parse.fields import Problem
from warnengine.directory.parse.xlsx import DATE_REASON, RawRow, xlsx_rows

SUFFIXES = (".csv", ".xlsx")
_HEADER_SEARCH = 10  # rows looked at for the header (a roster often has a title row or two above it)
_SAMPLE = 1 << 20  # bytes charset-normalizer looks at
_CHINESE = {"gb2312", "gbk", "gb18030", "hz", "hz_gb_2312", "cp936"}


@dataclass(frozen=True)
class ReadOptions:
    """How `grid import` reads the files: CSV encoding (None: detect), xlsx sheet (None: the first),
    the point files' coordinate system, and the region local phone numbers belong to."""

    encoding: str | None = None
    sheet: str | None = None
    crs: str = "wgs84"
    phone_region: str = "CN"
    crs_given: bool = False  # --crs on the command line: a shapefile without .prj is read in it
    time_zone: str = "Asia/Shanghai"  # the county's: roster times without an offset are in it


@dataclass
class Table:
    name: str  # the file's name, as problems report it
    header: tuple[str, ...]  # the required fields, then the optional ones present, in declared order
    rows: Iterator[tuple[int, list[str]]]  # (line, values in `header` order); bad rows are reported


def find_table(directory: Path, stem: str, problems: list[Problem]) -> Path | None:
    """`stem.csv` or `stem.xlsx` in `directory` (None if neither; both is a problem)."""
    found = [directory / f"{stem}{s}" for s in SUFFIXES if (directory / f"{stem}{s}").is_file()]
    if len(found) > 1:
        problems.append(
            Problem(
                found[1].name,
                0,
                f"{stem}.csv 与 {stem}.xlsx 只能留一个 / both {stem}.csv and .xlsx: keep one",
            )
        )
    return found[0] if found else None


def open_table(
    path: Path,
    fields: tuple[str, ...],
    optional: tuple[str, ...],
    options: ReadOptions,
    problems: list[Problem],
    dates: tuple[str, ...] = (),
) -> Table | None:
    """The table at `path` (a .csv or .xlsx), or None if it cannot be read or lacks a column (reported).
    Spreadsheet date cells are refused (an id or phone typed as a date) except in the `dates` fields."""
    name = path.name
    raw = (
        _csv_rows(path, options, problems)
        if path.suffix == ".csv"
        else xlsx_rows(path, options.sheet, problems)
    )
    if raw is None:
        return None
    names = lookup((*fields, *optional))
    seen: list[RawRow] = []
    header_at: int | None = None
    for row in raw:
        if any(row[1]):
            seen.append(row)
            if _matches(row[1], names) >= min(2, len(fields)) or len(seen) >= _HEADER_SEARCH:
                header_at = len(seen) - 1
                break
    if header_at is None:
        if not seen:
            problems.append(Problem(name, 1, "文件是空的 / the file is empty"))
            return None
        header_at = 0  # report the first row's missing columns
    line, cells, _ = seen[header_at]
    index = _columns(cells, names, fields, optional, name, line, problems)
    if index is None:
        return None
    header = (*fields, *(o for o in optional if o in index))
    at = [index[f] for f in header]
    rows = _project(name, raw, at, len(cells), path.suffix == ".csv", header, problems, dates)
    return Table(name, header, rows)


def _matches(cells: list[str], names: dict[str, str]) -> int:
    return sum(normalise(c) in names for c in cells if c)


def _columns(
    cells: list[str],
    names: dict[str, str],
    fields: tuple[str, ...],
    optional: tuple[str, ...],
    name: str,
    line: int,
    problems: list[Problem],
) -> dict[str, int] | None:
    """Field → column index of the header row; None if a column is missing or given twice (reported)."""
    index: dict[str, int] = {}
    for i, cell in enumerate(cells):
        field = names.get(normalise(cell)) if cell else None
        if field is None:
            continue  # a column of the county's own (备注, 身份证号…): not ours, not read
        if field in index:
            problems.append(
                Problem(name, line, f"列 {field} 出现两次 / column {field} given twice", field, cell)
            )
            return None
        index[field] = i
    missing = [f for f in fields if f not in index]
    if missing:
        more = f"; optional: {','.join(optional)}" if optional else ""
        problems.append(
            Problem(
                name,
                line,
                f"缺少列 / missing column(s) {','.join(missing)} "
                f"(header must have {','.join(fields)}{more}; Chinese headers: see docs)",
                ",".join(missing),
            )
        )
        return None
    return index


def _project(
    name: str,
    raw: Iterator[RawRow],
    at: list[int],
    width: int,
    strict_width: bool,
    header: tuple[str, ...],
    problems: list[Problem],
    dates: tuple[str, ...] = (),
) -> Iterator[tuple[int, list[str]]]:
    for line, cells, issues in raw:
        if not any(cells):
            continue  # empty rows are allowed anywhere
        if strict_width and len(cells) != width:
            problems.append(Problem(name, line, f"expected {width} fields, got {len(cells)}"))
            continue
        n = len(cells)
        values = [cells[i] if i < n else "" for i in at]
        if issues:
            bad = [
                (f, issues[i])
                for f, i in zip(header, at, strict=True)
                if i in issues and not (f in dates and issues[i][1] == DATE_REASON)
            ]
            for field, (value, reason) in bad:
                problems.append(Problem(name, line, reason, field, value))
            if bad:
                continue
        if any(values):
            yield line, values


def _csv_rows(path: Path, options: ReadOptions, problems: list[Problem]) -> Iterator[RawRow] | None:
    try:
        data = path.read_bytes()
    except OSError as e:
        problems.append(Problem(path.name, 0, f"无法读取 / cannot read: {e}"))
        return None
    encoding = options.encoding or detect_encoding(data)
    if encoding is None:
        problems.append(
            Problem(
                path.name,
                0,
                "无法识别文件编码，请用 --encoding 指定 / cannot tell the encoding: give --encoding",
            )
        )
        return None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as e:
        problems.append(
            Problem(path.name, 0, f"不是 {encoding} 编码 / cannot decode as {encoding}: {e}; try --encoding")
        )
        return None
    return _csv_records(text.removeprefix("\ufeff"))


def _csv_records(text: str) -> Iterator[RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, [c.strip() for c in row], None


def detect_encoding(data: bytes) -> str | None:
    """utf-8-sig, utf-8, gb18030 (for any GB family guess: GB18030 is their superset) or another
    encoding charset-normalizer is sure of; None if it cannot tell."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:_SAMPLE]
    best = from_bytes(sample, cp_isolation=["gb18030", "big5", "utf_16", "utf_8"]).best()
    if best is None:
        return None
    encoding = best.encoding.lower().replace("-", "_")
    return "gb18030" if encoding in _CHINESE else encoding
