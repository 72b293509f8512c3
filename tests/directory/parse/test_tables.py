"""Tables as counties keep them: CSV in UTF-8, UTF-8 with BOM and GB18030 (written by Python's codecs),
xlsx written by openpyxl, Chinese headers, title rows, columns in any order."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from warnengine.directory.parse import HOUSEHOLD_FIELDS, PEOPLE_FIELDS, Problem, ReadOptions, open_table
from warnengine.directory.parse.tables import detect_encoding, find_table

ROWS = [
    ["h1", "41052610020001", "114.5", "35.5", "3", "0"],
    ["h2", "41052610020001", "114.6", "35.6", "2", "1"],
]
CHINESE = ["户号", "所属网格", "经度", "纬度", "人口数", "重点人群"]


def read(path: Path, options: ReadOptions | None = None) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    problems: list[Problem] = []
    table = open_table(path, HOUSEHOLD_FIELDS, (), options or ReadOptions(), problems)
    return (list(table.rows) if table else []), problems


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = ",".join(CHINESE) + "\n" + "\n".join(",".join(r) for r in ROWS) + "\n"
    path = tmp_path / "households.csv"
    path.write_bytes(text.encode(encoding))
    rows, problems = read(path)
    assert problems == [] and rows == [(2, ROWS[0]), (3, ROWS[1])]


def test_gb18030_detected_from_names_alone() -> None:
    text = "姓名,角色\n" + "".join(f"王{chr(0x4E00 + i)}明,网格员\n" for i in range(50))
    assert detect_encoding(text.encode("gb18030")) == "gb18030"


def test_encoding_given_and_wrong(tmp_path: Path) -> None:
    path = tmp_path / "households.csv"
    path.write_bytes(("\n".join([",".join(CHINESE), *(",".join(r) for r in ROWS)]) + "\n").encode("gb18030"))
    rows, problems = read(path, ReadOptions(encoding="utf-8"))
    assert rows == [] and len(problems) == 1 and "cannot decode as utf-8" in problems[0].message
    rows, problems = read(path, ReadOptions(encoding="gb18030"))
    assert len(rows) == 2 and not problems


def test_xlsx_with_title_row_columns_reordered_and_extra(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["示范县户籍花名册"])  # a title row above the header
    ws.merge_cells("A1:G1")
    ws.append(["备注", *reversed(CHINESE)])
    for r in ROWS:
        ws.append(["", *reversed([float(r[i]) if i in (2, 3) else r[i] for i in range(6)])])
    ws.append([])  # an empty row in between
    ws.append(["note", "否", 4, 35.55, 114.55, "41052610020001", "h3"])
    wb.save(tmp_path / "households.xlsx")
    rows, problems = read(tmp_path / "households.xlsx")
    assert problems == []
    assert rows == [
        (3, ROWS[0]),
        (4, ROWS[1]),
        (6, ["h3", "41052610020001", "114.55", "35.55", "4", "否"]),  # 否 is read as 0 by the check
    ]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.append(["说明"])
    ws = wb.create_sheet("户")
    ws.append(list(HOUSEHOLD_FIELDS))
    ws.append(ROWS[0])
    wb.save(tmp_path / "households.xlsx")
    rows, problems = read(tmp_path / "households.xlsx", ReadOptions(sheet="户"))
    assert rows == [(2, ROWS[0])] and not problems
    rows, problems = read(tmp_path / "households.xlsx", ReadOptions(sheet="人"))
    assert "no sheet '人'" in problems[0].message and "户" in problems[0].message


def test_missing_column_is_named(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("姓名,手机号\n王伟,13812345678\n", encoding="utf-8")
    problems: list[Problem] = []
    assert open_table(tmp_path / "people.csv", PEOPLE_FIELDS, (), ReadOptions(), problems) is None
    [p] = problems
    assert p.line == 1 and "missing column(s) person_id,household_id,cell_code,role" in p.message


def test_csv_and_xlsx_both_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("x\n", encoding="utf-8")
    Workbook().save(tmp_path / "people.xlsx")
    problems: list[Problem] = []
    assert find_table(tmp_path, "people", problems) == tmp_path / "people.csv"
    assert "keep one" in problems[0].message
