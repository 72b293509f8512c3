"""`warnengine grid import` on files as a county keeps them (xlsx, GB18030, local phone numbers), its
error summary and error file, --skip-bad-rows, and `grid export --format xlsx` round trips."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from tests.cli.test_directory import run
from warnengine.directory import County, read_county, write_county
from warnengine.directory.export import write_county_xlsx
from warnengine.model import Level


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_xlsx_county_with_local_phones_imports_and_exports(small_county: County, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_county_xlsx(small_county, src)
    # The roster as an office keeps it: Chinese headers, phones typed as numbers (no +86), a landline.
    wb = load_workbook(src / "people.xlsx")
    ws = wb.active
    assert ws is not None
    for cell, text in zip(ws[1], ["人员编号", "户号", "所属网格", "姓名", "角色", "手机号"], strict=False):
        cell.value = text
    phones = [c for c in ws["F"][1:] if c.value]
    for c in phones[:-1]:
        c.value = float(str(c.value)[3:])  # 13812345678.0
    phones[-1].value = "0816-2345678"
    wb.save(src / "people.xlsx")
    data = tmp_path / "data"
    done = run(data, "grid", "import", str(src))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["people"] == len(small_county.people)
    assert "reading people.xlsx" in done.stderr
    done = run(data, "grid", "export", str(tmp_path / "out"), "--format", "xlsx")
    assert done.returncode == 0, done.stderr
    back = {p.person_id: p for p in read_county(tmp_path / "out").people}
    for p in small_county.people[:-1]:
        if p.phone and p.phone != back[p.person_id].phone:
            raise AssertionError((p, back[p.person_id]))
    landline = next(p for p in back.values() if p.phone == "+868162345678")
    assert landline.phone_kind == "fixed_line"


def test_gb18030_people_csv(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path / "src")
    people = tmp_path / "src" / "people.csv"
    people.write_bytes(people.read_text(encoding="utf-8").encode("gb18030"))
    done = run(tmp_path / "data", "grid", "import", str(tmp_path / "src"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def _broken(small_county: County, src: Path) -> tuple[str, str]:
    """people.xlsx with a phone in scientific notation and a duplicate id; returns the two bad ids."""
    write_county(small_county, src)
    rows = _rows(src / "people.csv")
    (src / "people.csv").unlink()
    rows[2][5] = "1.38123e+10"
    rows[3][0] = rows[4][0]  # a duplicate person_id
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r in rows:
        ws.append(r)
    wb.save(src / "people.xlsx")
    return rows[2][0], rows[4][0]


def test_bad_rows_summary_error_file_and_nothing_imported(small_county: County, tmp_path: Path) -> None:
    bad, dup = _broken(small_county, tmp_path / "src")
    done = run(tmp_path / "data", "grid", "import", str(tmp_path / "src"), "--errors-xlsx")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "2 个问题 / problem(s):" in done.stderr and "people.xlsx phone" in done.stderr
    assert "nothing imported" in done.stderr
    ws = load_workbook(tmp_path / "src" / "import-errors.xlsx").active
    assert ws is not None
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0] == ["文件 file", "行 row", "列 column", "值 value", "原因 reason"]
    assert rows[1][:4] == ["people.xlsx", 3, "phone", "1.38123e+10"] and "scientific" in str(rows[1][4])
    assert rows[2][:4] == ["people.xlsx", 5, "person_id", dup]
    done = run(tmp_path / "data", "grid", "export", str(tmp_path / "out"))
    assert done.returncode == 0 and not read_county(tmp_path / "out").people  # nothing half-imported
    assert bad


def test_skip_bad_rows_imports_the_rest_and_audits(small_county: County, tmp_path: Path) -> None:
    bad, _ = _broken(small_county, tmp_path / "src")
    done = run(tmp_path / "data", "grid", "import", str(tmp_path / "src"), "--skip-bad-rows")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["skipped"] >= 2
    errors = _rows(tmp_path / "src" / "import-errors.csv")  # utf-8-sig: Excel opens it in Chinese
    assert errors[0][0] == "\ufeff文件 file" and len(errors) - 1 == json.loads(done.stdout)["skipped"]
    run(tmp_path / "data", "grid", "export", str(tmp_path / "out"))
    people = {p.person_id for p in read_county(tmp_path / "out").people}
    assert bad not in people and len(people) >= len(small_county.people) - 3


def _last_import(data: Path) -> dict[str, Any]:
    with sqlite3.connect(data / "warnengine.db") as db:
        (detail,) = db.execute(
            "SELECT detail FROM audit_log WHERE action = 'directory.import' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    out: dict[str, Any] = json.loads(detail)
    return out


def test_export_edit_import_changes_only_the_edited_rows(small_county: County, tmp_path: Path) -> None:
    src, data, out = tmp_path / "src", tmp_path / "data", tmp_path / "out"
    write_county(small_county, src)
    assert run(data, "grid", "import", str(src)).returncode == 0
    assert run(data, "grid", "export", str(out), "--format", "xlsx").returncode == 0
    wb = load_workbook(out / "people.xlsx")
    ws = wb.active
    assert ws is not None
    header = [c.value for c in ws[1]]
    row = ws[3]
    person_id, before = row[0].value, row[header.index("phone")].value
    row[header.index("phone")].value = "139 0000 0000"  # as typed in the spreadsheet
    wb.save(out / "people.xlsx")
    done = run(data, "grid", "import", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["changed"], result["added"]) == (1, 0), done.stderr
    assert "people: 新增 0 / added, 修改 1 / changed" in done.stderr
    audit = _last_import(data)
    assert audit["changed_rows"] == [
        {
            "table": "people",
            "id": person_id,
            "before": {"phone": before},
            "after": {"phone": "+8613900000000"},
        }
    ]
    assert audit["changes"]["households"]["unchanged"] == len(small_county.households)


def test_one_townships_people_alone_update_in_place(small_county: County, tmp_path: Path) -> None:
    src, data, part = tmp_path / "src", tmp_path / "data", tmp_path / "part"
    write_county(small_county, src)
    assert run(data, "grid", "import", str(src)).returncode == 0
    township = next(c.code for c in small_county.cells if c.level is Level.TOWNSHIP)
    mine = [p for p in small_county.people if p.cell_code.startswith(township[:9]) and p.household_id]
    part.mkdir()
    with open(src / "people.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    ids = {p.person_id for p in mine}
    kept = [rows[0]] + [r for r in rows[1:] if r[0] in ids]
    kept[1][3] = "改过的名字"  # one name edited
    width = len(rows[0])  # the optional trailing columns (wecom_userid …) left empty
    new = [f"{kept[1][0]}-new", kept[1][1], kept[1][2], "新成员", "resident", "13800000099", "", "", "0"]
    kept.append(new + [""] * (width - len(new)))
    orphan = ["p-x", "no-such-household", kept[1][2], "无户", "resident", "", "", "", "0"]
    kept.append(orphan + [""] * (width - len(orphan)))
    with open(part / "people.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(kept)
    refused = run(data, "grid", "import", str(part))  # a household neither in the files nor on record
    assert refused.returncode == 2 and "no-such-household" in refused.stderr
    with open(part / "people.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(kept[:-1])
    done = run(data, "grid", "import", str(part))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["added"], result["changed"], result["people"]) == (1, 1, len(mine) + 1)
    assert set(result["kept"]) >= {"cells", "households", "devices"}
    assert "kept as on record" in done.stderr
    run(data, "grid", "export", str(tmp_path / "out"))
    back = read_county(tmp_path / "out")
    assert len(back.people) == len(small_county.people) + 1 and len(back.households) == len(
        small_county.households
    )
    assert {p.person_id: p.name for p in back.people}[kept[1][0]] == "改过的名字"
