"""A silent helper's doors go to the village grid head at `staff_ack_min` (issue 17), against the real
record (SQLite and PostgreSQL): not before, not when the helper answered, and only once."""

from __future__ import annotations

from tests.escalate.test_first_doors import with_register
from tests.escalate.test_ladder import Ladder
from warnengine.acks.people import apply_app_acks
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.first_doors import HELPER_STEP
from warnengine.model import Role
from warnengine.model.records import VisitTask
from warnengine.wire.records import AppAck


async def _answer(lad: Ladder, person_ids: set[str], step: int = 0) -> None:
    """These people acknowledge their message of `step`."""
    acks = [
        AppAck(delivery_id=str(d["delivery_id"]), at=lad.clock.now())
        for d in await lad.deliveries()
        if d["person_id"] in person_ids and d["step"] == step and d["channel"] != "voice"
    ]
    assert acks and await apply_app_acks(acks, lad.store) == len(acks)


async def _silent(lad: Ladder, person_id: str) -> None:
    """This person has acknowledged nothing (the register's helper may live in the household that
    answered at the start)."""
    d = t.deliveries.c
    async with lad.store.engine.begin() as conn:
        await conn.execute(t.deliveries.update().where(d.person_id == person_id).values(acked_at=None))
    assert not await lad.store.answered(lad.w.warning_id, [person_id])


async def _holding(lad: Ladder, doors: list[str]) -> list[VisitTask]:
    return [
        x
        for x in await lad.store.visit_tasks(lad.w.warning_id)
        if {h for h, _, _ in x.households} & set(doors)
    ]


async def test_a_silent_helper_hands_the_doors_to_the_grid_head(store: Store, small_county: County) -> None:
    lad, doors, helper = await with_register(store, small_county)
    heads = {s.person_id for s in lad.directory.staff.get(lad.village, []) if s.role is Role.GRID_HEAD}
    await _answer(lad, heads)  # the village grid head answers; the helper never does
    await _silent(lad, helper.person_id)
    lad.clock.advance(30)
    await lad.sweep()
    assert {x.assignee for x in await _holding(lad, doors)} == {helper.person_id}
    lad.clock.advance(4 * 60)  # 4.5 minutes: within staff_ack_min (5), the helper keeps them
    await lad.sweep()
    assert {x.assignee for x in await _holding(lad, doors)} == {helper.person_id}
    lad.clock.advance(60)
    await lad.sweep()
    [task] = await _holding(lad, doors)
    assert task.assignee in heads and task.level == 1 and task.state == "open"
    assert {h for h, _, _ in task.households} == set(doors)  # the vulnerable doors, still unvisited
    sent = [d for d in await lad.deliveries() if d["step"] == HELPER_STEP and d["person_id"] == task.assignee]
    assert sent and "代包保" in str(sent[0]["text"]) and all(h in str(sent[0]["text"]) for h in doors)
    # Once: the next sweeps leave the task with the grid head and send nothing more.
    lad.clock.advance(60)
    await lad.sweep()
    assert [x.assignee for x in await _holding(lad, doors)] == [task.assignee]
    again = [
        d for d in await lad.deliveries() if d["step"] == HELPER_STEP and d["person_id"] == task.assignee
    ]
    assert len(again) == len(sent)


async def test_a_helper_who_answered_keeps_the_doors(store: Store, small_county: County) -> None:
    lad, doors, helper = await with_register(store, small_county)
    await _silent(lad, helper.person_id)
    lad.clock.advance(30)
    await lad.sweep()
    await _answer(lad, {helper.person_id}, HELPER_STEP)  # "收到" to the helper's 叫应
    lad.clock.advance(10 * 60)
    await lad.sweep()
    assert {x.assignee for x in await _holding(lad, doors)} == {helper.person_id}


async def test_a_silent_helper_at_work_keeps_the_doors(store: Store, small_county: County) -> None:
    """A helper who reported one door (the app, no reply to the message) is at work: not handed over."""
    lad, doors, helper = await with_register(store, small_county)
    await _silent(lad, helper.person_id)
    lad.clock.advance(30)
    await lad.sweep()
    [task] = await _holding(lad, doors)
    assert await store.report_visit(task.task_id, doors[0], "reached", lad.clock.now())
    lad.clock.advance(10 * 60)
    await lad.sweep()
    assert {x.assignee for x in await _holding(lad, doors[1:])} == {helper.person_id}
