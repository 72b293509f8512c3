"""duty(.csv|.xlsx), the roster: Chinese headers, county time zone, real spreadsheets with date cells,
and every bad row reported with its row and column, nothing kept from a bad file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from warnengine.directory import County, check_county, write_county
from warnengine.directory.parse import Problem, ReadOptions
from warnengine.directory.parse.duty import DUTY_FIELDS, TIME_FIELDS, parse_time, read_duty
from warnengine.directory.parse.tables import open_table
from warnengine.model import Level, Role
from warnengine.model.duty import DutyBoard, Post

SH = ZoneInfo("Asia/Shanghai")
LEVELS = {"410526100000": Level.TOWNSHIP, "410526100001": Level.VILLAGE}
PEOPLE = {"p1", "p2", "p3"}


def read(path: Path) -> tuple[list[object], list[Problem]]:
    problems: list[Problem] = []
    table = open_table(path, DUTY_FIELDS, (), ReadOptions(), problems, TIME_FIELDS)
    return list(read_duty(table, LEVELS, PEOPLE, SH, problems)), problems


def test_times_without_offset_are_in_the_county_time_zone() -> None:
    assert parse_time("2026-06-01 08:00", SH) == dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC).timestamp()
    assert parse_time("2026/6/1 8:00", SH) == parse_time("2026-06-01 08:00", SH)
    assert parse_time("2026年06月01日 08:00", SH) == parse_time("2026-06-01T08:00+08:00", SH)
    assert parse_time("2026-06-01T00:00Z", SH) == parse_time("2026-06-01 08:00", SH)
    assert parse_time("明天早上", SH) is None


def test_a_csv_roster_with_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "duty.csv"
    path.write_text(
        "值班表（城关镇）\n"
        "网格编码,角色,岗位,人员编号,开始时间,结束时间,备注\n"
        "410526100000,调度员,A岗,p1,2026-06-01 08:00,2026-06-01 20:00,\n"
        "410526100000,调度员,A岗,p2,2026-06-01 20:00,2026-06-02 08:00,夜班\n"
        "410526100000,网格长,副职,p3,2026-06-01 08:00,2026-06-02 08:00,\n",
        encoding="utf-8",
    )
    shifts, problems = read(path)
    assert problems == []
    board = DutyBoard(shifts)  # type: ignore[arg-type]
    at = dt.datetime(2026, 6, 1, 19, 59, tzinfo=SH).timestamp()
    assert board.holders("410526100000", at) == {"A": ["p1"], "deputy": ["p3"]}
    # The shift boundary at 20:00 Beijing time: p2 from that second on.
    assert board.holders("410526100000", at + 60) == {"A": ["p2"], "deputy": ["p3"]}
    assert [s.role for s in board.on_duty("410526100000", at)] == [Role.DISPATCHER, Role.GRID_HEAD]
    assert board.on_duty("410526100000", at)[1].post is Post.DEPUTY


def test_bad_rows_are_each_reported_and_nothing_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "duty.csv"
    path.write_text(
        "cell_code,role,post,person_id,start,end\n"
        "410526100000,dispatcher,A,p1,2026-06-01 08:00,2026-06-01 20:00\n"  # 2: fine
        "410526100000,dispatcher,A,p2,2026-06-01 19:00,2026-06-02 08:00\n"  # 3: overlaps row 2
        "999999999999,dispatcher,A,p1,2026-06-01 08:00,2026-06-01 20:00\n"  # 4: unknown cell
        "410526100001,grid_head,A,nobody,2026-06-01 08:00,2026-06-01 20:00\n"  # 5: unknown person
        "410526100001,grid_head,C,p1,2026-06-01 08:00,2026-06-01 20:00\n"  # 6: unknown post
        "410526100001,grid_head,B,p1,2026-06-01 20:00,2026-06-01 08:00\n"  # 7: inverted
        "410526100001,grid_head,B,p2,soon,2026-06-01 08:00\n"  # 8: not a time
        "410526100001,居民,B,p2,2026-06-01 08:00,2026-06-01 09:00\n"  # 9: a resident holds no post
        "410526100001,grid_head,A,p3,2026-06-01 08:00,2026-06-01 12:00\n"  # 10: overlaps row 5
        "410526100001,grid_head,A,p3,2026-06-01 13:00,2026-06-01 20:00\n",  # 11: gap in post A
        encoding="utf-8",
    )
    _, problems = read(path)
    where = sorted((p.line, p.column) for p in problems)
    assert where == [
        (3, "start"),
        (4, "cell_code"),
        (5, "person_id"),
        (6, "post"),
        (7, "end"),
        (8, "start"),
        (9, "role"),
        (10, "start"),  # row 5's person is unknown, but its shift still holds the post
        (11, "start"),
    ]
    assert "60" in next(p.message for p in problems if p.line == 11)  # the gap's minutes
    assert all(p.file == "duty.csv" for p in problems)


def test_a_real_xlsx_roster_with_date_cells(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["所属网格", "角色", "岗位", "人员编号", "上岗时间", "下岗时间"])
    ws.append(["410526100001", "网格长", "A", "p1", dt.datetime(2026, 6, 1, 8), dt.datetime(2026, 6, 1, 20)])
    ws.append(["410526100001", "网格员", "B", "p2", "2026-06-01 08:00", "2026-06-01 20:00"])
    ws.append(["410526100001", "网格员", "B", "p9", dt.datetime(2026, 6, 1, 20), dt.datetime(2026, 6, 2, 8)])
    wb.save(tmp_path / "duty.xlsx")
    shifts, problems = read(tmp_path / "duty.xlsx")
    assert [(p.line, p.column, p.value) for p in problems] == [(4, "person_id", "p9")]
    assert len(shifts) == 2
    s = shifts[0]
    assert (s.role, s.post, s.person_id) == (Role.GRID_HEAD, Post.A, "p1")  # type: ignore[attr-defined]
    assert s.start == dt.datetime(2026, 6, 1, 8, tzinfo=SH).timestamp()  # type: ignore[attr-defined]


def test_the_county_directory_reads_and_writes_its_roster(small_county: County, tmp_path: Path) -> None:
    from warnengine.model.duty import Shift

    town = next(c.code for c in small_county.cells if c.level is Level.TOWNSHIP)
    who = next(p.person_id for p in small_county.people if p.cell_code == town)
    start = dt.datetime(2026, 6, 1, 8, tzinfo=SH).timestamp()
    shift = Shift(town, Role.DISPATCHER, Post.A, who, start, start + 12 * 3600)
    county = County(*[getattr(small_county, f) for f in ("cells", "households", "people", "devices")])
    write_county(
        County(county.cells, county.households, county.people, county.devices, [], [shift]), tmp_path
    )
    assert "+08:00" in (tmp_path / "duty.csv").read_text()
    back, problems = check_county(tmp_path)
    assert problems == [] and back.shifts == [shift]
    with open(tmp_path / "duty.csv", "a", encoding="utf-8") as f:
        f.write(f"{town},dispatcher,A,ghost,2026-06-01 20:00,2026-06-02 08:00\n")
    _, problems = check_county(tmp_path)
    assert [(p.file, p.line, p.column) for p in problems] == [("duty.csv", 3, "person_id")]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Urumqi"])
def test_the_county_time_zone_is_a_setting(zone: str, tmp_path: Path) -> None:
    path = tmp_path / "duty.csv"
    path.write_text(
        "cell_code,role,post,person_id,start,end\n"
        "410526100001,grid_head,A,p1,2026-06-01 08:00,2026-06-01 20:00\n"
    )
    problems: list[Problem] = []
    table = open_table(path, DUTY_FIELDS, (), ReadOptions(time_zone=zone), problems, TIME_FIELDS)
    (shift,) = read_duty(table, LEVELS, PEOPLE, ZoneInfo(zone), problems)
    assert shift.start == dt.datetime(2026, 6, 1, 8, tzinfo=ZoneInfo(zone)).timestamp()
