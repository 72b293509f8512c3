"""Rows of an .xlsx sheet as text, with what a spreadsheet does to data flagged per cell.

openpyxl reads in read-only mode with data_only (a formula's last computed value). What it cannot say in
that mode is found in the sheet's XML, scanned once: merged ranges (only the top-left cell holds the value)
and formulas never computed (a file written by a program, not saved by Excel, has no value for them).
Numbers come back as Excel keeps them: an integral float (a phone column typed as numbers) is its
exact integer, so 13812345678.0 is "13812345678"; a date is flagged, never turned into text silently.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from warnengine.directory.parse.fields import Problem

# (line, values, {column index: (value, reason)} or None)
RawRow = tuple[int, list[str], dict[int, tuple[str, str]] | None]

_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
_FORMULA = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?>\s*<f(?:[^>]*?/>|[^>]*>[^<]*</f>)\s*(<v>[^<])?')
_EXACT = 2.0**53  # integral floats below this are exact integers
_DATES = (dt.datetime, dt.date, dt.time, dt.timedelta)
# The reason a date cell is flagged with; a table whose column holds times (the roster) accepts it.
DATE_REASON = (
    "Excel 把该值存成了日期，请把该列设为文本后重新输入 / "
    "Excel stored this value as a date: format the column as text and type it again"
)


def xlsx_rows(path: Path, sheet: str | None, problems: list[Problem]) -> Iterator[RawRow] | None:
    """The rows of `sheet` (None: the first), numbered as Excel numbers them; None if unreadable."""
    from openpyxl import load_workbook  # imported here: only xlsx users pay for it

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile, KeyError, ValueError… on a broken file
        problems.append(Problem(path.name, 0, f"不是有效的 xlsx 文件 / not a readable .xlsx file: {e}"))
        return None
    if sheet is not None and sheet not in wb.sheetnames:
        wb.close()
        names = ", ".join(wb.sheetnames)
        problems.append(Problem(path.name, 0, f"没有工作表 / no sheet {sheet!r} (sheets: {names})"))
        return None
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    flagged = _scan(path, ws._worksheet_path)
    return _rows(wb, ws, flagged)


def _rows(wb: Any, ws: Any, flagged: dict[tuple[int, int], str]) -> Iterator[RawRow]:
    ws.reset_dimensions()  # a file's stated dimensions may be wrong; read what is there
    try:
        for line, values in enumerate(ws.iter_rows(min_row=1, min_col=1, values_only=True), 1):
            texts: list[str] = []
            issues: dict[int, tuple[str, str]] | None = None
            for col, v in enumerate(values):
                if v is None:
                    texts.append("")
                    reason = flagged.get((line, col)) if flagged else None
                    if reason is not None:
                        issues = issues or {}
                        issues[col] = ("", reason)
                elif isinstance(v, str):
                    texts.append(v.strip())
                elif isinstance(v, float):
                    texts.append(str(int(v)) if v.is_integer() and abs(v) < _EXACT else repr(v))
                elif isinstance(v, bool):
                    texts.append("1" if v else "0")
                elif isinstance(v, int):
                    texts.append(str(v))
                elif isinstance(v, _DATES):
                    texts.append(str(v))
                    issues = issues or {}
                    issues[col] = (str(v), DATE_REASON)
                else:
                    texts.append(str(v))
            yield line, texts, issues
    finally:
        wb.close()


def _scan(path: Path, member: str) -> dict[tuple[int, int], str]:
    """(row, column index) → reason, for the cells of merged ranges but the first and for formulas
    without a computed value."""
    try:
        with zipfile.ZipFile(path) as z:
            xml = z.read(member.lstrip("/"))
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    out: dict[tuple[int, int], str] = {}
    if b"<mergeCell " in xml:
        for m in _MERGE.finditer(xml):
            c0, r0, c1, r1 = _col(m[1]), int(m[2]), _col(m[3]), int(m[4])
            ref = f"{m[1].decode()}{r0}:{m[3].decode()}{r1}"
            reason = (
                f"合并单元格 {ref}：请取消合并并在每一行填写 / "
                f"merged cells {ref}: unmerge them and fill in every row"
            )
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    if (r, c) != (r0, c0):
                        out[(r, c)] = reason
    if b"<f" in xml:
        for m in _FORMULA.finditer(xml):
            if m[3] is None:
                out[(int(m[2]), _col(m[1]))] = (
                    "公式没有计算结果：请在 Excel 中打开并保存，或粘贴为数值 / "
                    "a formula without a computed value: open and save the file in Excel, or paste values"
                )
    return out


def _col(letters: bytes) -> int:
    """Zero-based column index of A, B, …, AA…"""
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1
