"""`warnengine duty import` and `warnengine duty now --json` against a real SQLite database: shift
boundaries in the county's time zone (Asia/Shanghai), per-row errors, nothing half-imported."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook

from tests.cli.test_directory import run
from warnengine.directory import County, write_county
from warnengine.model import Level, Role


def _roster(county: County) -> tuple[str, str, str, str]:
    town = next(c.code for c in county.cells if c.level is Level.TOWNSHIP)
    d1, d2 = [p.person_id for p in county.people if p.cell_code == town and p.role is Role.DISPATCHER][:2]
    (head,) = [p.person_id for p in county.people if p.cell_code == town and p.role is Role.GRID_HEAD]
    return town, d1, d2, head


def test_duty_now_at_shift_boundaries(small_county: County, tmp_path: Path) -> None:
    src, data = tmp_path / "src", tmp_path / "data"
    write_county(small_county, src)
    town, d1, d2, head = _roster(small_county)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["网格编码", "角色", "岗位", "人员编号", "开始时间", "结束时间"])
    ws.append([town, "调度员", "A岗", d1, "2026-06-01 08:00", "2026-06-01 20:00"])
    ws.append([town, "调度员", "A岗", d2, "2026-06-01 20:00", "2026-06-02 08:00"])
    ws.append([town, "网格长", "副职", head, "2026-06-01 08:00", "2026-06-02 08:00"])
    wb.save(src / "duty.xlsx")
    done = run(data, "grid", "import", str(src))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["shifts"] == 3

    def now(at: str) -> dict[str, object]:
        done = run(data, "duty", "now", "--cell", town, "--at", at, "--json")
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert isinstance(out, dict)
        return out

    before = now("2026-06-01 19:59")
    assert before["at"] == "2026-06-01T19:59+08:00"
    cells = before["cells"]
    assert isinstance(cells, dict)
    assert [h["person_id"] for h in cells[town]["A"]] == [d1]
    assert cells[town]["deputy"][0] == {
        "person_id": head,
        "role": "grid_head",
        "until": "2026-06-02T08:00+08:00",
    }
    after = now("2026-06-01 20:00")  # 20:00 Beijing time is 12:00 UTC: the night shift
    assert [h["person_id"] for h in after["cells"][town]["A"]] == [d2]  # type: ignore[index]
    # An offset given is taken as written: 12:00 UTC is 20:00 in Beijing.
    assert now("2026-06-01T12:00+00:00")["cells"] == after["cells"]
    gone = now("2026-06-02 08:00")
    assert gone["cells"] == {town: {}} and gone["gaps"] == [town]
    done = run(data, "duty", "now", "--at", "whenever")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_duty_import_reports_bad_rows_and_keeps_the_old_roster(small_county: County, tmp_path: Path) -> None:
    src, data = tmp_path / "src", tmp_path / "data"
    write_county(small_county, src)
    town, d1, d2, _ = _roster(small_county)
    assert run(data, "grid", "import", str(src)).returncode == 0
    good = tmp_path / "good.csv"
    good.write_text(
        "cell_code,role,post,person_id,start,end\n"
        f"{town},dispatcher,A,{d1},2026-06-01 08:00,2026-06-02 08:00\n"
    )
    done = run(data, "duty", "import", str(good))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"shifts": 1, "cells": 1}
    bad = tmp_path / "duty.csv"
    bad.write_text(
        "cell_code,role,post,person_id,start,end\n"
        f"{town},dispatcher,A,{d2},2026-06-01 08:00,2026-06-02 08:00\n"
        f"{town},dispatcher,A,ghost,2026-06-02 08:00,2026-06-01 08:00\n"
    )
    done = run(data, "duty", "import", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "nothing imported" in done.stderr
    errors = (tmp_path / "duty-errors.csv").read_text(encoding="utf-8-sig")
    assert "ghost" in errors and "person_id" in errors and ",3," in errors
    done = run(data, "duty", "now", "--cell", town, "--at", "2026-06-01 12:00", "--json")
    assert json.loads(done.stdout)["cells"][town]["A"][0]["person_id"] == d1  # the old roster stands
