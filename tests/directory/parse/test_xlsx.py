"""What a spreadsheet does to a roster, in files openpyxl writes: merged cells, formulas without a computed
value, dates, a phone column typed as numbers. Each is a per-row problem naming its column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

from warnengine.directory.parse import PEOPLE_FIELDS, Problem, ReadOptions, open_table

HEADER = ["人员编号", "户号", "所属网格", "姓名", "角色", "手机号", "微信openid", "app令牌"]
CELL = "41052610020001"


def people(tmp_path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    if merge:
        ws.merge_cells(merge)
    path = tmp_path / "people.xlsx"
    wb.save(path)
    return path


def read(path: Path) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    problems: list[Problem] = []
    table = open_table(path, PEOPLE_FIELDS, (), ReadOptions(), problems)
    assert table is not None
    return list(table.rows), problems


def test_phone_typed_as_numbers_is_recovered_exactly(tmp_path: Path) -> None:
    path = people(tmp_path, [["p1", "h1", CELL, "王伟", "居民", 13812345678.0, None, None]])
    [(line, row)], problems = read(path)
    assert (line, row[5]) == (2, "13812345678") and not problems


def test_merged_cells_are_reported_per_row(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["p1", "h1", CELL, "王伟", "居民", "13812345678", None, None],
        ["p2", "h1", None, "李娜", "居民", "13912345678", None, None],
        ["p3", "h1", None, "张强", "居民", None, None, None],
    ]
    got, problems = read(people(tmp_path, rows, merge="C2:C4"))
    assert [line for line, _ in got] == [2]
    assert [(p.line, p.column) for p in problems] == [(3, "cell_code"), (4, "cell_code")]
    assert "merged cells C2:C4" in problems[0].message and "合并单元格" in problems[0].message


def test_formula_without_a_value_and_a_date(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["p1", "h1", CELL, "王伟", "居民", "13812345678", None, None],
        ["p2", "=B2", CELL, "李娜", "居民", None, None, None],  # never computed: openpyxl wrote it
        ["p3", dt.datetime(2024, 3, 12), CELL, "张强", "居民", None, None, None],  # "3-12" typed in Excel
    ]
    got, problems = read(people(tmp_path, rows))
    assert [line for line, _ in got] == [2]
    assert [(p.line, p.column) for p in problems] == [(3, "household_id"), (4, "household_id")]
    assert "a formula without a computed value" in problems[0].message
    assert "stored this value as a date" in problems[1].message and problems[1].value == "2024-03-12 00:00:00"


def test_not_an_xlsx(tmp_path: Path) -> None:
    (tmp_path / "people.xlsx").write_bytes(b"PK\x03\x04 not really")
    problems: list[Problem] = []
    assert open_table(tmp_path / "people.xlsx", PEOPLE_FIELDS, (), ReadOptions(), problems) is None
    assert problems[0].line == 0 and "not a readable .xlsx" in problems[0].message
