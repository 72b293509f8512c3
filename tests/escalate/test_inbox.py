"""The field-report inbox's deadline (issue 17), against the real record (SQLite and PostgreSQL): a visit's
needs_help / refused opens a report (once, however often it is written); nobody takes it within the
policy's report_take_min → the county duty is 叫应'd, then the next holder a deadline later; once taken,
no more 叫应."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.escalate.test_follow_up import at_16
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import steps
from warnengine.model.field_report import ReportKind, ReportSource, ReportState


def breaches() -> float:
    return REGISTRY.get_sample_value("warnengine_field_report_deadline_breaches_total") or 0.0


def opened(source: str) -> float:
    return REGISTRY.get_sample_value("warnengine_field_reports_total", {"source": source}) or 0.0


async def test_visit_outcomes_open_one_report_each(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    (helpme, _, _), (stays, _, _) = task.households[0], task.households[1]
    before = opened("visit")
    now = lad.clock.now()
    assert await store.report_visit(task.task_id, helpme, "needs_help", now, "卧床老人，需担架")
    assert await store.report_visit(task.task_id, stays, "refused", now, "不愿离开")
    assert await store.report_visit(task.task_id, stays, "refused", now + 5, "第二次记录")  # written twice
    reports = await store.field_reports()
    assert {(r.household_id, r.kind, r.source) for r in reports} == {
        (helpme, ReportKind.NEEDS_HELP, ReportSource.VISIT),
        (stays, ReportKind.REFUSED, ReportSource.VISIT),
    }
    assert all(r.state is ReportState.OPEN and r.warning_id == lad.w.warning_id for r in reports)
    assert all(r.village_code == lad.village and r.reporter == task.assignee for r in reports)
    assert "卧床老人" in next(r.text for r in reports if r.household_id == helpme)
    assert opened("visit") - before == 2
    assert await store.open_field_report_count() == 2


async def test_untaken_report_calls_the_county_duty_until_taken(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    home = task.households[0][0]
    assert await store.report_visit(task.task_id, home, "needs_help", lad.clock.now())
    (report,) = await store.field_reports()
    county = next(c.code for c in small_county.cells if c.level.value == "county")
    duty = [
        p.person_id for p in small_county.people if p.cell_code == county and p.role.value == "dispatcher"
    ]

    async def inbox_calls() -> list[dict[str, object]]:
        return [d for d in await lad.deliveries() if int(str(d["step"])) in steps.INBOX]

    lad.clock.advance(9 * 60)  # within the 10 minutes: nobody is called
    await lad.sweep()
    assert await inbox_calls() == []
    b0 = breaches()
    lad.clock.advance(60)
    await lad.sweep()
    first = await inbox_calls()
    assert first and {d["person_id"] for d in first} == {duty[0]}  # the county's first on duty
    assert report.report_id in str(first[0]["text"]) and "叫应" in str(first[0]["text"])
    assert breaches() - b0 == 1
    again = await store.field_report(report.report_id)
    assert again is not None and again.calls == 1 and again.state is ReportState.OPEN
    lad.clock.advance(5 * 60)  # half a deadline later: nobody new is called
    await lad.sweep()
    assert len(await inbox_calls()) == len(first)
    lad.clock.advance(5 * 60)  # still not taken a deadline after the call: the next holder
    await lad.sweep()
    called = {d["person_id"] for d in await inbox_calls()}
    assert called == {duty[0], duty[1]} and breaches() - b0 == 1  # one breach, two calls
    assert await store.take_field_report(report.report_id, "disp", lad.clock.now()) == "taken"
    assert await store.take_field_report(report.report_id, "disp2", lad.clock.now()) == "already"
    n = len(await inbox_calls())
    lad.clock.advance(30 * 60)
    await lad.sweep()
    assert len(await inbox_calls()) == n  # taken: the 叫应 stops
    assert (
        await store.close_field_report(report.report_id, "disp", ReportState.FORWARDED, "乡镇", 1.0)
        == "closed"
    )
    assert await store.open_field_report_count() == 0


async def test_vulnerable_whereabouts_unknown_opens_a_report(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    weak = [h for h, vul, _ in task.households if vul]
    strong = [h for h, vul, _ in task.households if not vul]
    assert weak and strong
    for home in (weak[0], strong[0]):
        assert await store.report_visit(task.task_id, home, "nobody_home", lad.clock.now())
    assert await store.field_reports() == []  # a first empty door is revisited, not reported
    lad.clock.advance(30 * 60)
    await lad.sweep()
    revisit = next(
        x
        for x in await store.visit_tasks(lad.w.warning_id)
        if x.task_id != task.task_id and any(h == weak[0] for h, _, _ in x.households)
    )
    for home in (weak[0], strong[0]):
        if any(h == home for h, _, _ in revisit.households):
            assert await store.report_visit(revisit.task_id, home, "nobody_home", lad.clock.now())
    (report,) = await store.field_reports()
    assert report.household_id == weak[0] and report.kind is ReportKind.WHEREABOUTS_UNKNOWN
    assert report.source is ReportSource.WHEREABOUTS and "下落不明" in report.text
