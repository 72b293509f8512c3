"""vulnerable(.csv|.xlsx), the vulnerable register (重点人群包保, issue 17): an optional directory file with
Chinese headers and values; every bad row (unknown household or helper, bad category or mobility, a
dispatcher as helper) is reported with its line and column, the good ones kept; written back by
write_county and read again unchanged; an import stores it, `--skip-bad-rows` drops only the bad rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from openpyxl import Workbook

from warnengine.db.store import Store
from warnengine.directory import County, check_county, read_county, write_county
from warnengine.directory.importer import import_folder
from warnengine.directory.parse import ReadOptions
from warnengine.model import Role
from warnengine.model.vulnerable import Mobility, VulnerableCategory, VulnerableEntry
from warnengine.resolve.directory import Directory

HEADER = ["户号", "人群类别", "包保责任人", "转移需求", "备注", "身份证号"]


def _register_book(c: County, path: Path) -> tuple[list[str], str]:
    homes = [h.household_id for h in c.households[:8]]
    helper = next(p.person_id for p in c.people if p.role is Role.GROUP_LEADER)
    dispatcher = next(p.person_id for p in c.people if p.role is Role.DISPATCHER)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["重点人群包保台账"])  # a title row above the header
    ws.append(HEADER)
    ws.append([homes[0], "独居老人", helper, "轮椅", "右腿不便", "x"])  # good, Chinese values
    ws.append([homes[1], "bedridden", helper, "", "", ""])  # good, default mobility
    ws.append(["h-nobody", "高龄", helper, "", "", ""])  # unknown household
    ws.append([homes[2], "富裕", helper, "", "", ""])  # bad category
    ws.append([homes[3], "残疾", "p-nobody", "", "", ""])  # unknown helper
    ws.append([homes[4], "残疾", "", "", "", ""])  # no helper
    ws.append([homes[5], "高龄", helper, "飞行", "", ""])  # bad mobility
    ws.append([homes[0], "高龄", helper, "", "", ""])  # duplicate household
    ws.append([homes[6], "其他", dispatcher, "", "", ""])  # the duty room cannot go to a door
    wb.save(path / "vulnerable.xlsx")
    return homes, helper


def test_register_per_row_problems(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    homes, helper = _register_book(small_county, tmp_path)
    county, problems = check_county(tmp_path)
    assert county.vulnerable == [
        VulnerableEntry(
            household_id=homes[0],
            category=VulnerableCategory.LIVING_ALONE,
            mobility=Mobility.WHEELCHAIR,
            helper_person_id=helper,
            note="右腿不便",
        ),
        VulnerableEntry(
            household_id=homes[1], category=VulnerableCategory.BEDRIDDEN, helper_person_id=helper
        ),
    ]
    mine = sorted((p.line, p.column) for p in problems if p.file == "vulnerable.xlsx")
    assert mine == [
        (5, "household_id"),
        (6, "category"),
        (7, "helper_person_id"),
        (8, "helper_person_id"),
        (9, "mobility"),
        (10, "household_id"),
        (11, "helper_person_id"),
    ]
    assert all("/" in p.message for p in problems if p.file == "vulnerable.xlsx")  # Chinese / English


def test_register_round_trip(small_county: County, tmp_path: Path) -> None:
    helper = next(p.person_id for p in small_county.people if p.role is Role.GRID_MEMBER)
    register = [
        VulnerableEntry(
            household_id=small_county.households[0].household_id,
            category=VulnerableCategory.ELDERLY,
            mobility=Mobility.STRETCHER,
            helper_person_id=helper,
            note="需担架，二楼",
        )
    ]
    write_county(dataclasses.replace(small_county, vulnerable=register), tmp_path)
    assert read_county(tmp_path).vulnerable == register
    write_county(small_county, tmp_path)  # an export without a register leaves no stale file
    assert not (tmp_path / "vulnerable.csv").exists()


async def test_import_stores_register_skips_bad_rows(
    store: Store, small_county: County, tmp_path: Path
) -> None:
    write_county(small_county, tmp_path)
    homes, helper = _register_book(small_county, tmp_path)
    refused = await import_folder(store, tmp_path, ReadOptions())
    assert not refused.imported and any(p.file == "vulnerable.xlsx" for p in refused.problems)
    done = await import_folder(store, tmp_path, ReadOptions(), skip_bad_rows=True)
    assert done.imported and done.counts["vulnerable"] == 2
    assert [v.household_id for v in await store.vulnerable_register()] == homes[:2]
    directory = await Directory.load(store)
    entry = directory.register[homes[0]]
    name = next(p.name for p in small_county.people if p.person_id == helper)
    assert (entry.category, entry.mobility, entry.helper, entry.helper_name) == (
        "living_alone",
        "wheelchair",
        helper,
        name,
    )


def test_points_of_other_kinds(small_county: County, tmp_path: Path) -> None:
    """易涝点, 涉水点, 水库: the same points file, kinds in Chinese stored by name, unknown kinds kept."""
    write_county(small_county, tmp_path)
    lead = next(p for p in small_county.people if p.role is Role.POINT_LEAD)
    home = next(h for h in small_county.households if h.cell_code.startswith(lead.cell_code))
    rows = ["点位编号,所属网格,名称,经度,纬度,点位类型,监测责任人,受威胁户"]
    for i, kind in enumerate(("易涝点", "涉水点", "水库", "尾矿库")):
        rows.append(
            f"P{i},{home.cell_code},点{i},{home.lon},{home.lat},{kind},{lead.person_id},{home.household_id}"
        )
    (tmp_path / "points.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    county, problems = check_county(tmp_path)
    assert not [p for p in problems if p.file == "points.csv"]
    assert [m.kind for m in county.points] == ["flood_prone", "river_crossing", "reservoir", "尾矿库"]
    assert all(m.households == (home.household_id,) for m in county.points)


def test_register_survives_grid_import_and_export(small_county: County, tmp_path: Path) -> None:
    from tests.cli.test_directory import run

    helper = next(p.person_id for p in small_county.people if p.role is Role.GROUP_LEADER)
    register = [
        VulnerableEntry(
            household_id=h.household_id, category=VulnerableCategory.DISABLED, helper_person_id=helper
        )
        for h in small_county.households[:3]
    ]
    write_county(dataclasses.replace(small_county, vulnerable=register), tmp_path / "src")
    done = run(tmp_path / "data", "grid", "import", str(tmp_path / "src"))
    assert done.returncode == 0, done.stderr
    for fmt in ("csv", "xlsx"):
        out = tmp_path / fmt
        done = run(tmp_path / "data", "grid", "export", str(out), "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert (out / f"vulnerable.{fmt}").is_file() and read_county(out).vulnerable == register
