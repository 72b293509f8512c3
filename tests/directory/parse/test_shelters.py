"""shelters(.csv|.xlsx), disaster shelters (避灾安置场所, issue 17): an optional file of the county directory
with Chinese headers; every bad row is reported with its line and column, the good ones kept; written back
by write_county and read again unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from openpyxl import Workbook

from warnengine.directory import County, check_county, read_county, write_county
from warnengine.model.evacuation import Shelter

HEADER = ["安置点编号", "所属网格", "安置点名称", "经度", "纬度", "容纳人数", "管理员"]


def test_shelters_xlsx_per_row_problems(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    home = small_county.households[0]
    village = home.cell_code[:12]
    keeper = next(p.person_id for p in small_county.people if p.cell_code == village)
    x, y = home.lon, home.lat
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    ws.append(["S1", village, "村小学", x, y, 120, keeper])  # good
    ws.append(["S1", village, "重复", x, y, 10, ""])  # duplicate id
    ws.append(["S2", "999999999999", "未知网格", x, y, 10, ""])  # unknown cell
    ws.append(["S3", village, "容量不对", x, y, "十", ""])  # capacity not a number
    ws.append(["S4", village, "容量为零", x, y, 0, ""])  # capacity not positive
    ws.append(["S5", village, "管理员不明", x, y, 10, "p-nobody"])  # unknown keeper
    ws.append(["S6", village, "村外", x + 5, y + 5, 10, ""])  # outside its cell
    wb.save(tmp_path / "shelters.xlsx")
    county, problems = check_county(tmp_path)
    assert [s.shelter_id for s in county.shelters] == ["S1"]
    assert county.shelters[0] == Shelter(
        shelter_id="S1", cell_code=village, name="村小学", lon=x, lat=y, capacity=120, keeper_person_id=keeper
    )
    mine = sorted((p.line, p.column) for p in problems if p.file == "shelters.xlsx")
    assert [line for line, _ in mine] == [3, 4, 5, 6, 7, 8]
    assert dict(mine) == {
        3: "shelter_id",
        4: "cell_code",
        5: "capacity",
        6: "capacity",
        7: "keeper_person_id",
        8: mine[-1][1],  # outside the cell: reported on the coordinates
    }


def test_shelters_round_trip(small_county: County, tmp_path: Path) -> None:
    home = small_county.households[0]
    shelter = Shelter(
        shelter_id="S1",
        cell_code=home.cell_code[:12],
        name="村小学",
        lon=round(home.lon, 6),
        lat=round(home.lat, 6),
        capacity=80,
    )
    write_county(dataclasses.replace(small_county, shelters=[shelter]), tmp_path)
    assert read_county(tmp_path).shelters == [shelter]
    write_county(small_county, tmp_path)  # none now: the stale file goes
    assert not (tmp_path / "shelters.csv").exists() and read_county(tmp_path).shelters == []
