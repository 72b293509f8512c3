"""orgs(.csv|.xlsx), organisations (单位: schools, enterprises, construction sites…, issue 17): an optional
file of the county directory with Chinese headers and kinds; every bad row is reported with its line and
column (unknown cell, unknown responsible person, bad kind, bad headcount…), the good ones kept; written back
by write_county and read again unchanged; imported into the record and loaded into the targeting index."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from openpyxl import Workbook

from tests.plan.org_county import SCHOOL, with_orgs
from warnengine.db.store import Store
from warnengine.directory import County, check_county, read_county, write_county
from warnengine.directory.importer import import_folder
from warnengine.directory.parse import ReadOptions
from warnengine.model.org import Org, OrgKind
from warnengine.resolve.directory import Directory

HEADER = ["单位编号", "所属网格", "单位类型", "单位名称", "经度", "纬度", "在校人数", "负责人"]


def test_orgs_xlsx_per_row_problems(small_county: County, tmp_path: Path) -> None:
    write_county(dataclasses.replace(small_county, orgs=[]), tmp_path)
    home = small_county.households[0]
    group, village = home.cell_code, home.cell_code[:12]
    township = next(c.parent for c in small_county.cells if c.code == village)
    people = [p.person_id for p in small_county.people if p.cell_code.startswith(village)][:2]
    x, y = home.lon, home.lat
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    ws.append(["O1", group, "学校", "村小学", x, y, 830, f"{people[0]}；{people[1]}"])  # good, 2 persons
    ws.append(["O2", village, "construction_site", "工地", x, y, "0", ""])  # good: nobody responsible
    ws.append(["O1", group, "学校", "重复", x, y, 10, ""])  # duplicate id
    ws.append(["O3", "999999999999", "企业", "未知网格", x, y, 10, ""])  # unknown cell
    ws.append(["O4", group, "游乐场", "类型不对", x, y, 10, ""])  # bad kind
    ws.append(["O5", group, "景区", "人数不对", x, y, "很多", ""])  # headcount not a number
    ws.append(["O6", group, "景区", "人数为负", x, y, -3, ""])  # headcount negative
    ws.append(["O7", group, "企业", "负责人不明", x, y, 10, "p-nobody"])  # unknown responsible person
    ws.append(["O8", group, "企业", "村外", x + 5, y + 5, 10, ""])  # outside its cell
    ws.append(["O9", township, "企业", "乡镇级", x, y, 10, ""])  # a township is not a place for an org
    wb.save(tmp_path / "orgs.xlsx")
    county, problems = check_county(tmp_path)
    assert [o.org_id for o in county.orgs] == ["O1", "O2"]
    assert county.orgs[0] == Org(
        org_id="O1",
        cell_code=group,
        kind=OrgKind.SCHOOL,
        name="村小学",
        lon=x,
        lat=y,
        headcount=830,
        responsible=tuple(people),
    )
    assert county.orgs[1].responsible == () and county.orgs[1].kind is OrgKind.CONSTRUCTION_SITE
    mine = sorted((p.line, p.column) for p in problems if p.file == "orgs.xlsx")
    assert [line for line, _ in mine] == [4, 5, 6, 7, 8, 9, 10, 11]
    assert dict(mine) == {
        4: "org_id",
        5: "cell_code",
        6: "kind",
        7: "headcount",
        8: "headcount",
        9: "responsible",
        10: mine[6][1],  # outside the cell: reported on the coordinates
        11: "cell_code",
    }
    assert mine[6][1] == "lon,lat"
    bad_kind = next(p for p in problems if p.file == "orgs.xlsx" and p.line == 6)
    assert "游乐场" in bad_kind.message and "school" in bad_kind.message


def test_orgs_round_trip(small_county: County, tmp_path: Path) -> None:
    county = with_orgs(small_county)
    write_county(county, tmp_path)
    assert read_county(tmp_path).orgs == [
        o.model_copy(update={"lon": round(o.lon, 6), "lat": round(o.lat, 6)}) for o in county.orgs
    ]
    write_county(dataclasses.replace(small_county, orgs=[]), tmp_path)  # none now: the stale file goes
    assert not (tmp_path / "orgs.csv").exists() and read_county(tmp_path).orgs == []


async def test_orgs_imported_and_loaded(store: Store, small_county: County, tmp_path: Path) -> None:
    county = with_orgs(small_county)
    write_county(county, tmp_path)
    result = await import_folder(store, tmp_path, ReadOptions())
    assert result.imported and result.counts["orgs"] == 3
    directory = await Directory.load(store)
    assert len(directory.orgs) == 3
    school = next(o for o in county.orgs if o.org_id == SCHOOL)
    assert directory.orgs.by_person[school.responsible[0]] == [SCHOOL]
    assert [o.org_id for o in directory.orgs.by_village[school.cell_code[:12]]] == ["O-school", "O-site"]
    # A bad row with --skip-bad-rows: left out with the reason, the rest imported.
    (tmp_path / "orgs.csv").write_text(
        "org_id,cell_code,kind,name,lon,lat,headcount,responsible\n"
        f"O-new,{school.cell_code},school,新学校,{school.lon},{school.lat},50,p-nobody\n",
        encoding="utf-8",
    )
    refused = await import_folder(store, tmp_path, ReadOptions())
    assert not refused.imported and refused.problems[0].column == "responsible"
    skipped = await import_folder(store, tmp_path, ReadOptions(), skip_bad_rows=True)
    assert skipped.imported and skipped.counts["orgs"] == 0
