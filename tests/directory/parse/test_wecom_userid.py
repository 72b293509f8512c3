"""people.csv's optional wecom_userid column (企业微信账号): staff only, WeCom's alphabet, per-row problems
naming the column; it round-trips through the files and the record, and the migration moved the userids
older directories kept in wechat_openid."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from sqlalchemy import text

from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory import County, check_county, write_county
from warnengine.model import Role


def test_staff_userids_are_checked_per_row_and_round_trip(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    path = tmp_path / "people.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    at = header.index("wecom_userid")
    header[at] = "企业微信账号"  # the Chinese header is read as the column
    staff = [i for i, r in enumerate(rows[1:], start=1) if r[4] != "resident"]
    resident = next(i for i, r in enumerate(rows[1:], start=1) if r[4] == "resident")
    rows[staff[0]][at] = "zhang.san@county"
    rows[staff[1]][at] = "张三"  # not WeCom's alphabet
    rows[resident][at] = "lisi"  # a resident: never
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    _, problems = check_county(tmp_path)
    found = {(p.line, p.column) for p in problems}
    assert found == {(staff[1] + 1, "wecom_userid"), (resident + 1, "wecom_userid")}, problems
    texts = " ".join(p.message for p in problems)
    assert "只用于工作人员" in texts and "1-64 letters" in texts

    rows[staff[1]][at], rows[resident][at] = "", ""
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    county, problems = check_county(tmp_path)
    assert not problems
    person = next(p for p in county.people if p.person_id == rows[staff[0]][0])
    assert person.wecom_userid == "zhang.san@county" and person.role is not Role.RESIDENT


async def test_the_record_keeps_it_and_the_migration_moved_old_userids(
    small_county: County, tmp_path: Path
) -> None:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await migrate(engine, "0022")  # a record from before the column
    staff = next(p for p in small_county.people if p.role is Role.GRID_HEAD)
    resident = next(p for p in small_county.people if p.role is Role.RESIDENT)
    async with engine.begin() as conn:
        insert = text(
            "INSERT INTO people (person_id, household_id, cell_code, name, role, wechat_openid)"
            " VALUES (:p, :h, :c, :n, :r, :o)"
        )
        for p, openid in ((staff, "wang.wu"), (resident, "o" + "x" * 27)):
            await conn.execute(
                insert,
                {"p": p.person_id, "h": p.household_id, "c": p.cell_code, "n": p.name, "r": p.role.value,
                 "o": openid},
            )  # fmt: skip
    await migrate(engine)
    async with engine.connect() as conn:
        got = dict(
            (r[0], (r[1], r[2]))
            for r in await conn.execute(text("SELECT person_id, wechat_openid, wecom_userid FROM people"))
        )
    # The staff member's userid moved to its own column; the resident's OA openid stayed.
    assert got == {staff.person_id: (None, "wang.wu"), resident.person_id: ("o" + "x" * 27, None)}
    await engine.dispose()

    store = Store(connect(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"), ManualClock(0.0))
    await migrate(store.engine)
    people = [
        p.model_copy(update={"wecom_userid": "li.si"}) if p == staff else p for p in small_county.people
    ]
    county = dataclasses.replace(small_county, people=people)
    await store.import_directory(county.cells, county.households, county.people, county.devices, [])
    _, _, back, _, _ = await store.export_directory()
    assert next(p for p in back if p.person_id == staff.person_id).wecom_userid == "li.si"
    await store.close()
