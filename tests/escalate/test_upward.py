"""Upward reports (上报) against the real record (SQLite and PostgreSQL), the clock moved by hand: at 10, 30,
60 minutes after release and hourly after, the township's and the county's on-duty persons get a progress
report, once per slot even across a restart; after an outage only the latest slot; the closure report
when the warning is cancelled, on the Cancel's version."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY

from tests.escalate.test_duty import HOUR, staff
from tests.escalate.test_ladder import POLICY, Ladder, red, rows, start
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.upward import CLOSURE_STEP, REPORT_STEP, due_slot, report_upward
from warnengine.model import MsgType, Role
from warnengine.model.duty import Post, Shift
from warnengine.plan.policy import Rule

TZ = ZoneInfo("Asia/Shanghai")


async def on_duty(lad: Ladder) -> tuple[str, str, str, str]:
    """Township post A and the county's post A, all day. (township, its A, county, its A)"""
    t0 = lad.clock.now()
    town = lad.directory.cells[lad.village].parent
    assert town is not None
    county = lad.directory.cells[town].parent
    assert county is not None
    d1 = staff(lad, town, Role.DISPATCHER)[0]
    chief = staff(lad, county, Role.GRID_HEAD)[0]
    await lad.store.replace_roster(
        [
            Shift(town, Role.DISPATCHER, Post.A, d1, t0 - 8 * HOUR, t0 + 16 * HOUR),
            Shift(county, Role.GRID_HEAD, Post.A, chief, t0 - 8 * HOUR, t0 + 16 * HOUR),
        ]
    )
    return town, d1, county, chief


async def report_at(lad: Ladder, store: Store, t0: float, minutes: float) -> list[str]:
    lad.clock.advance(minutes * 60 - (lad.clock.now() - t0))
    return await report_upward(store, lad.directory, POLICY, lad.emit, TZ)


async def reports(lad: Ladder) -> list[dict[str, Any]]:
    return await rows(lad.store, t.deliveries, warning_id=lad.w.warning_id)


def test_due_slots_are_10_30_60_then_hourly() -> None:
    rule = POLICY.rules[0]
    assert [due_slot(rule, m) for m in (9.9, 10, 29, 30, 60, 119, 120, 185)] == [
        None,
        (0, 10),
        (0, 10),
        (1, 30),
        (2, 60),
        (2, 60),
        (3, 120),
        (4, 180),
    ]
    once = Rule(name="x", hazards=("any",), severities=rule.severities, report_every_min=0)
    assert due_slot(once, 500) == (2, 60)


async def test_progress_reports_go_to_the_duty_once_per_slot(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    town, d1, county, chief = await on_duty(lad)
    lad.clock.advance(6 * 60)
    await lad.sweep()  # 叫应: the silent village staff's superiors are called
    assert await report_at(lad, store, t0, 9.5) == []
    sent = await report_at(lad, store, t0, 10)
    assert sent == [f"w-ladder:{town}:progress:10", f"w-ladder:{county}:progress:10"]
    first = [d for d in await reports(lad) if d["step"] == REPORT_STEP]
    assert {d["person_id"] for d in first} == {d1, chief}
    text = next(d["text"] for d in first if d["person_id"] == d1)
    homes = await rows(store, t.warning_households, warning_id=lad.w.warning_id)
    reached = sum(1 for h in homes if h["state"] == "reached")
    assert "预警进展 10分钟" in text and f"到户 {reached}/{len(homes)}" in text
    assert "叫应未应答：" in text and "（叫应1次）" in text  # the silent grid head, called once
    assert (town[:12]) in {v for _, _, v in lad.emitted}
    # Again at the same minute, and from a restarted store on the same record: nothing more.
    assert await report_at(lad, store, t0, 10.5) == []
    again = Store(store.engine, store.clock)
    assert await report_upward(again, lad.directory, POLICY, lad.emit, TZ) == []
    assert len([d for d in await reports(lad) if d["step"] >= REPORT_STEP]) == len(first)
    for minute, slot in ((31, 1), (61, 2), (125, 3)):
        assert len(await report_at(lad, store, t0, minute)) == 2
        assert {d["person_id"] for d in await reports(lad) if d["step"] == REPORT_STEP + slot} == {d1, chief}
    recorded = await rows(store, t.upward_reports, warning_id=lad.w.warning_id)
    assert sorted({r["due_min"] for r in recorded}) == [10, 30, 60, 120]
    assert all(r["persons"] == 1 and r["kind"] == "progress" for r in recorded)


async def test_after_an_outage_only_the_latest_slot_goes(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    town, _, county, _ = await on_duty(lad)
    assert await report_at(lad, store, t0, 65) == [
        f"w-ladder:{town}:progress:60",
        f"w-ladder:{county}:progress:60",
    ]
    assert {d["step"] for d in await reports(lad) if d["step"] >= CLOSURE_STEP} == {REPORT_STEP + 2}


async def test_closure_report_when_cancelled(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    town, d1, county, chief = await on_duty(lad)
    await report_at(lad, store, t0, 12)
    before = REGISTRY.get_sample_value("warnengine_upward_reports_total", {"kind": "closure"}) or 0
    cancel = red(lad.village, lad.clock, MsgType.CANCEL, version=2)
    assert await store.save_warning(cancel) == "cancel"
    sent = await report_at(lad, store, t0, 20)
    assert sent == [f"w-ladder:{town}:closure:0", f"w-ladder:{county}:closure:0"]
    closing = [d for d in await reports(lad) if d["step"] == CLOSURE_STEP]
    assert {d["person_id"] for d in closing} == {d1, chief}
    assert all(d["version"] == 2 and "闭环报告" in d["text"] for d in closing)
    assert all(d["expires_at"] > lad.clock.now() for d in closing)
    # Closed: no more progress reports, and the closure report only once.
    assert await report_at(lad, store, t0, 40) == []
    assert await report_at(lad, store, t0, 130) == []
    after = REGISTRY.get_sample_value("warnengine_upward_reports_total", {"kind": "closure"})
    assert after == before + 2


async def test_nobody_on_duty_reports_go_to_the_directory(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    town = lad.directory.cells[lad.village].parent
    assert town is not None
    assert len(await report_at(lad, store, t0, 10)) == 2
    got = {d["person_id"] for d in await reports(lad) if d["step"] == REPORT_STEP}
    assert set(staff(lad, town, Role.DISPATCHER)) <= got


async def test_closure_report_when_expired_and_never_for_long_closed_chains(
    store: Store, small_county: County
) -> None:
    from sqlalchemy import update

    lad = await start(store, small_county)
    t0 = lad.clock.now()
    town, d1, county, chief = await on_duty(lad)
    async with store.engine.begin() as conn:  # the warning expires 20 minutes after release
        await conn.execute(update(t.warnings).values(expires=t0 + 20 * 60))
    assert len(await report_at(lad, store, t0, 10)) == 2
    assert await report_at(lad, store, t0, 25) == [
        f"w-ladder:{town}:closure:0",
        f"w-ladder:{county}:closure:0",
    ]
    closing = [d for d in await reports(lad) if d["step"] == CLOSURE_STEP]
    assert {d["person_id"] for d in closing} == {d1, chief} and all(d["version"] == 1 for d in closing)
    assert await report_at(lad, store, t0, 90) == []
    # A chain that ended more than a day before upward reports ran (an upgrade) is never reported on.
    async with store.engine.begin() as conn:
        await conn.execute(t.upward_reports.delete())
    assert await report_at(lad, store, t0, 25 * 60) == []


async def test_the_closure_report_names_whom_each_silent_person_was_called_to_and_how_often(
    store: Store, small_county: County
) -> None:
    from tests.escalate.test_duty import calls_about, roster, sweep_at
    from warnengine.report.closure import closure_report, to_html
    from warnengine.report.xlsx import to_xlsx

    lad = await start(store, small_county)
    t0 = lad.clock.now()
    who = await roster(lad)
    (head,) = staff(lad, lad.village, Role.GRID_HEAD)
    for minute in (6, 12, 16):
        await sweep_at(lad, t0, minute)
    called = [c["target_id"] for c in await calls_about(lad, head)]
    assert called[:2] == [who["d1"], who["d2"]]
    report = await closure_report(store, lad.w.warning_id)
    assert report is not None
    mine = next(s for s in report["staff_not_answering"] if s["person_id"] == head)
    assert mine["called"] == called and mine["calls"] == len(called)
    assert f"<td>{'、'.join(called)}</td><td>{len(called)}</td>" in to_html(report)
    assert to_xlsx(report)[:2] == b"PK"  # a zip: the workbook
