"""Follow-ups after a visit (issue 17), against the real record (SQLite and PostgreSQL), ManualClock:
`needs_help` is an open case handed to the grid head on duty at once, never "unreachable"; nobody home is
revisited after the rule's `revisit_min`, and the final state says what is known."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from tests.escalate.test_ladder import (
    Ladder,
    nothing_due_at_4_minutes,
    resend_and_call_at_6_minutes,
    rows,
    start,
    visits_at_16_minutes,
)
from warnengine.db import persons_tables as pt
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.follow_up import FOLLOW_STEP
from warnengine.model.records import VisitTask
from warnengine.report.closure import closure_report


async def at_16(store: Store, c: County) -> tuple[Ladder, VisitTask]:
    lad = await start(store, c)
    await nothing_due_at_4_minutes(lad)
    await resend_and_call_at_6_minutes(lad)
    tasks, _ = await visits_at_16_minutes(lad)
    return lad, max(tasks, key=lambda x: len(x.households))


async def state_of(lad: Ladder, household: str) -> dict[str, Any]:
    homes = await rows(lad.store, t.warning_households, warning_id=lad.w.warning_id)
    return next(h for h in homes if h["household_id"] == household)


def holding(tasks: list[VisitTask], household: str) -> list[VisitTask]:
    return [x for x in tasks if any(h == household and o is None for h, _, o in x.households)]


async def test_needs_help_goes_to_the_grid_head_and_stays_open(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    home = task.households[0][0]
    assert await store.report_visit(task.task_id, home, "needs_help", lad.clock.now(), "卧床老人")
    assert (await state_of(lad, home))["state"] == "needs_help"
    report = await closure_report(store, lad.w.warning_id)
    assert report is not None and report["needs_help"] == 1 and report["unreachable"] == 0
    live = await store.village_reach(lad.w.warning_id)  # the console's live status counts it apart too
    assert live[lad.village]["households_needs_help"] == 1
    # The very next sweep hands it to the village grid head (the one on duty), with a message.
    lad.clock.advance(60)
    await lad.sweep()
    help_tasks = holding(await store.visit_tasks(lad.w.warning_id), home)
    grid_head = next(s.person_id for s in lad.directory.staff[lad.village] if s.role.value == "grid_head")
    assert len(help_tasks) == 1 and help_tasks[0].assignee == grid_head and help_tasks[0].level == 1
    msgs = [d for d in await lad.deliveries() if d["step"] >= FOLLOW_STEP and d["person_id"] == grid_head]
    assert msgs and home in msgs[0]["text"]
    # Handed once: another sweep adds no second task while it is held open.
    lad.clock.advance(60)
    await lad.sweep()
    assert len(holding(await store.visit_tasks(lad.w.warning_id), home)) == 1
    assert (await state_of(lad, home))["state"] == "needs_help"  # still open, never unreachable
    # Resolved when the grid head reports it reached (helped out).
    assert await store.report_visit(help_tasks[0].task_id, home, "reached", lad.clock.now(), "已转移")
    assert (await state_of(lad, home))["state"] == "reached"
    report = await closure_report(store, lad.w.warning_id)
    assert report is not None and report["needs_help"] == 0


async def test_a_vulnerable_household_not_home_is_revisited_after_10_minutes(
    store: Store, small_county: County
) -> None:
    lad, task = await at_16(store, small_county)
    home, other = task.households[0][0], task.households[1][0]
    wh = t.warning_households.c
    async with store.engine.begin() as conn:  # one of them vulnerable, the other not
        for hid, vulnerable in ((home, True), (other, False)):
            await conn.execute(
                update(t.warning_households)
                .where(wh.warning_id == lad.w.warning_id, wh.household_id == hid)
                .values(vulnerable=vulnerable)
            )
    for hid in (home, other):
        assert await store.report_visit(task.task_id, hid, "nobody_home", lad.clock.now())
    lad.clock.advance(9 * 60)
    await lad.sweep()
    assert not holding(await store.visit_tasks(lad.w.warning_id), home)
    lad.clock.advance(60)  # the rule's revisit_vulnerable_min (10): the vulnerable door only
    await lad.sweep()
    assert len(holding(await store.visit_tasks(lad.w.warning_id), home)) == 1
    assert not holding(await store.visit_tasks(lad.w.warning_id), other)


async def test_nobody_home_is_revisited_then_final(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    gone, away = [h for h, vulnerable, _ in task.households if not vulnerable][:2]
    for home in (gone, away):
        assert await store.report_visit(task.task_id, home, "nobody_home", lad.clock.now())
        assert (await state_of(lad, home))["state"] == "nobody_home"
    lad.clock.advance(29 * 60)  # before the rule's revisit_min (30): no revisit yet
    await lad.sweep()
    assert not holding(await store.visit_tasks(lad.w.warning_id), gone)
    lad.clock.advance(60)
    await lad.sweep()
    revisits = holding(await store.visit_tasks(lad.w.warning_id), gone)
    assert len(revisits) == 1 and revisits[0].task_id != task.task_id
    assert holding(await store.visit_tasks(lad.w.warning_id), away) == revisits
    # Second empty door: final, whereabouts unknown; the neighbour says the other family is away.
    now = lad.clock.now()
    assert await store.report_visit(revisits[0].task_id, gone, "nobody_home", now)
    assert await store.report_visit(revisits[0].task_id, away, "moved", now, "邻居: 在县城亲戚家")
    g, a = await state_of(lad, gone), await state_of(lad, away)
    assert g["state"] == "unreachable" and "whereabouts unknown" in g["reason"]
    assert a["state"] == "unreachable" and a["reason"].startswith("away") and "邻居" in a["reason"]
    lad.clock.advance(60 * 60)
    await lad.sweep()
    assert not holding(await store.visit_tasks(lad.w.warning_id), gone)  # final: no third visit
    report = await closure_report(store, lad.w.warning_id)
    assert report is not None and report["nobody_home"] == 0 and report["unreachable"] == 2
    persons = report["persons"]
    homes = {h["household_id"] for h in lad.homes}
    named = sum(1 for p in lad.county.people if p.household_id in homes)
    residents = sum(h.members for h in lad.county.households if h.household_id in homes)
    assert persons["named"] == named and persons["total"] == residents > persons["in_reached_households"]
    # 到人: everyone is accounted for or named with a reason; the away family is accounted (away), the
    # door nobody opened twice is not (whereabouts unknown).
    assert persons["accounted"] >= persons["acknowledged"] >= 1
    assert persons["accounted"] + sum(persons["unaccounted"].values()) == persons["total"]
    size = {h.household_id: h.members for h in lad.county.households}
    own = await rows(store, pt.person_accounts, warning_id=lad.w.warning_id, household_id=gone)
    assert persons["unaccounted"]["whereabouts_unknown"] == size[gone] - sum(r["persons"] for r in own)
    assert report["persons_accounted"] == persons["accounted"]


async def test_a_silent_group_leader_does_not_get_the_revisit(store: Store, small_county: County) -> None:
    """A leader who never answered their own 叫应 would hold the door open for ever: the head goes."""
    lad, task = await at_16(store, small_county)
    leader = next(
        s.person_id for s in lad.directory.staff.get(task.group_code, []) if s.role.value == "group_leader"
    )
    async with store.engine.begin() as conn:  # this leader never answered, and their superior was called
        d = t.deliveries.c
        await conn.execute(t.deliveries.update().where(d.person_id == leader).values(acked_at=None))
        await conn.execute(
            t.staff_calls.insert().values(
                warning_id=lad.w.warning_id, person_id=leader, superior_id=None, called_at=lad.clock.now()
            )
        )
    assert leader in await store.silent_staff(lad.w.warning_id)
    home = task.households[0][0]
    assert await store.report_visit(task.task_id, home, "nobody_home", lad.clock.now())
    lad.clock.advance(31 * 60)
    await lad.sweep()
    [revisit] = holding(await store.visit_tasks(lad.w.warning_id), home)
    grid_heads = {s.person_id for s in lad.directory.staff[task.village_code] if s.role.value == "grid_head"}
    assert revisit.assignee in grid_heads and revisit.level == 1


async def test_follow_ups_of_two_sweeps_in_one_minute_are_both_walked_and_both_told(
    store: Store, small_county: County
) -> None:
    lad, task = await at_16(store, small_county)
    first, second = [h for h, vulnerable, _ in task.households if not vulnerable][:2]
    assert await store.report_visit(task.task_id, first, "nobody_home", lad.clock.now())
    lad.clock.advance(20)
    assert await store.report_visit(task.task_id, second, "nobody_home", lad.clock.now())
    lad.clock.advance(30 * 60 - 20)
    await lad.sweep()  # the first door is due
    lad.clock.advance(20)
    await lad.sweep()  # the second, 20 s later: the same minute, the same group and visitor
    held = [holding(await store.visit_tasks(lad.w.warning_id), h) for h in (first, second)]
    assert all(len(h) == 1 for h in held) and held[0][0].task_id != held[1][0].task_id
    assert held[0][0].assignee == held[1][0].assignee and held[0][0].state == "open"
    told = {
        d["step"]
        for d in await lad.deliveries()
        if d["step"] >= FOLLOW_STEP and d["person_id"] == held[0][0].assignee
    }
    assert len(told) == 2  # a message for each batch: the second was not taken for the first


async def test_needs_help_with_a_silent_grid_head_goes_to_the_township_dispatcher(
    store: Store, small_county: County
) -> None:
    lad, task = await at_16(store, small_county)
    home = task.households[0][0]
    heads = [s.person_id for s in lad.directory.staff[lad.village] if s.role.value == "grid_head"]
    await store.record_staff_calls(lad.w.warning_id, [(h, None) for h in heads], lad.clock.now())  # silent
    township = lad.directory.cells[lad.village].parent
    assert township is not None
    dispatchers = {s.person_id for s in lad.directory.staff[township] if s.role.value == "dispatcher"}
    async with store.engine.begin() as conn:  # the township's dispatchers answered (acked) their messages
        await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.warning_id == lad.w.warning_id, t.deliveries.c.person_id.in_(dispatchers))
            .values(acked_at=lad.clock.now())
        )
    silent = await store.silent_staff(lad.w.warning_id)
    assert set(heads) <= silent and not dispatchers & silent
    assert await store.report_visit(task.task_id, home, "needs_help", lad.clock.now(), "卧床老人")
    lad.clock.advance(60)
    await lad.sweep()
    [help_task] = holding(await store.visit_tasks(lad.w.warning_id), home)
    assert help_task.assignee in dispatchers and help_task.level == 2  # never the head who does not answer
