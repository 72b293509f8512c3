"""到人 (issue 17): persons, not only households — each state and transition against the real record.

A person is accounted for by their own ack, a visitor naming them or counting heads, or an evacuation
outcome; a household is reached only when every member is; the closure report and the live tally count
persons with the reason for each one missing."""

from __future__ import annotations

import pytest

from tests.escalate.test_follow_up import at_16, state_of
from tests.escalate.test_ladder import Ladder, rows
from tests.plan.conftest import planned_village
from warnengine.acks.people import apply_app_acks
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model.evacuation import Destination, EvacOutcome
from warnengine.report.closure import closure_report
from warnengine.wire.records import AppAck


def family(c: County, household: str) -> list[str]:
    return sorted(p.person_id for p in c.people if p.household_id == household)


def members(c: County, household: str) -> int:
    return next(h.members for h in c.households if h.household_id == household)


async def multi_on_task(lad: Ladder, task_households: tuple[tuple[str, bool, str | None], ...]) -> str:
    """A household of the task with two or more members, every one named."""
    return next(
        h
        for h, _, _ in task_households
        if members(lad.county, h) >= 2 and len(family(lad.county, h)) == members(lad.county, h)
    )


async def test_one_members_ack_leaves_the_household_open_until_all_answer(
    store: Store, small_county: County
) -> None:
    w, _ = await planned_village(store, small_county, "w-persons")
    sms = [d for d in await rows(store, t.deliveries, warning_id=w.warning_id) if d["household_id"]]
    by_home: dict[str, dict[str, str]] = {}
    for d in sms:
        by_home.setdefault(d["household_id"], {})[d["person_id"]] = d["delivery_id"]
    home = next(h for h, ps in by_home.items() if len(ps) >= 2 and len(ps) == members(small_county, h))
    first, *rest = sorted(by_home[home])
    assert await apply_app_acks([AppAck(delivery_id=by_home[home][first], at=10.0)], store) == 1
    [h] = await rows(store, t.warning_households, warning_id=w.warning_id, household_id=home)
    assert h["state"] != "reached"  # open: members unaccounted for
    tally = await store.persons_tally(w.warning_id)
    assert tally["persons_accounted"] == 1
    assert tally["persons_unaccounted"]["no_answer"] == tally["persons"] - 1
    assert await store.accounted_person_ids(w.warning_id) == {first}
    # The same ack again counts nobody twice; the others answering close the household, at the last.
    await apply_app_acks([AppAck(delivery_id=by_home[home][first], at=11.0)], store)
    acks = [AppAck(delivery_id=by_home[home][p], at=20.0 + k) for k, p in enumerate(rest)]
    assert await apply_app_acks(acks, store) == len(rest)
    [h] = await rows(store, t.warning_households, warning_id=w.warning_id, household_id=home)
    assert (h["state"], h["reached_at"]) == ("reached", 20.0 + len(rest) - 1)
    assert (await store.persons_tally(w.warning_id))["persons_accounted"] == 1 + len(rest)


async def test_an_app_answer_for_the_household_closes_it(store: Store, small_county: County) -> None:
    w, _ = await planned_village(store, small_county, "w-app-home")
    sms = [d for d in await rows(store, t.deliveries, warning_id=w.warning_id) if d["household_id"]]
    home = next(h.household_id for h in small_county.households if h.members >= 3 and any(
        d["household_id"] == h.household_id for d in sms))  # fmt: skip
    mine = next(d for d in sms if d["household_id"] == home)
    # By warning and person, as the app's 全家已知晓 button sends it: every member accounted for.
    ack = AppAck(warning_id=w.warning_id, person_id=mine["person_id"], at=12.0, household=0)
    assert await apply_app_acks([ack], store) >= 1
    [h] = await rows(store, t.warning_households, warning_id=w.warning_id, household_id=home)
    assert (h["state"], h["reached_at"]) == ("reached", 12.0)
    assert (await store.persons_tally(w.warning_id))["persons_accounted"] == members(small_county, home)


async def test_headcount_visit_closes_or_leaves_the_rest_open(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    home = await multi_on_task(lad, task.households)
    n = members(lad.county, home)
    done = await store.report_visit_persons(task.task_id, home, "reached", lad.clock.now(), None, None, n - 1)
    assert done is not None and (done.outcome, done.persons, done.accounted) == ("nobody_home", n, n - 1)
    h = await state_of(lad, home)
    assert h["state"] == "nobody_home" and "partly home" in h["reason"]
    # A smaller headcount later accounts nobody less; the full one closes the household.
    lad.clock.advance(30 * 60)
    await lad.sweep()  # the revisit (like an empty door)
    revisit = next(
        x
        for x in await store.visit_tasks(lad.w.warning_id)
        if x.task_id != task.task_id and any(h == home for h, _, _ in x.households)
    )
    small = await store.report_visit_persons(revisit.task_id, home, "reached", lad.clock.now(), None, None, 1)
    assert small is not None and small.accounted == n - 1
    # The second partial door: final for the rest, whereabouts unknown; the counted stay counted.
    h = await state_of(lad, home)
    assert h["state"] == "unreachable" and h["reason"].startswith("whereabouts unknown")
    report = await closure_report(store, lad.w.warning_id)
    assert report is not None and report["persons_unaccounted"]["whereabouts_unknown"] == 1


async def test_named_person_visit(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    home = await multi_on_task(lad, task.households)
    names = family(lad.county, home)
    one = await store.report_visit_persons(task.task_id, home, "reached", lad.clock.now(), None, names[:1])
    assert one is not None and (one.outcome, one.accounted) == ("nobody_home", 1)
    listed = (await store.visit_people(lad.w.warning_id, [home]))[home]
    assert listed[1] == 1 and [a for _, _, a in listed[2]] == [True] + [False] * (len(names) - 1)
    # Named again with a headcount that includes them: nothing counted twice.
    lad.clock.advance(30 * 60)
    await lad.sweep()
    revisit = next(
        x
        for x in await store.visit_tasks(lad.w.warning_id)
        if x.task_id != task.task_id and any(h == home for h, _, _ in x.households)
    )
    everyone = await store.report_visit_persons(
        revisit.task_id, home, "reached", lad.clock.now(), None, names, len(names)
    )
    assert everyone is not None and (everyone.outcome, everyone.accounted) == ("reached", len(names))
    h = await state_of(lad, home)
    assert (h["state"], h["reached_by"]) == ("reached", "visit")
    tally = await store.persons_tally(lad.w.warning_id)
    report = await closure_report(store, lad.w.warning_id)
    assert report is not None and report["persons_accounted"] == tally["persons_accounted"]
    assert (
        report["persons"]["accounted"] + sum(report["persons_unaccounted"].values())
        == report["persons"]["total"]
    )


async def test_a_plain_reached_visit_accounts_for_the_whole_household(
    store: Store, small_county: County
) -> None:
    """No names, no headcount (also the SMS "完成"): the visitor says the whole household."""
    lad, task = await at_16(store, small_county)
    home = await multi_on_task(lad, task.households)
    before = (await store.persons_tally(lad.w.warning_id))["persons_accounted"]
    assert await store.report_visit(task.task_id, home, "reached", lad.clock.now())
    assert (await state_of(lad, home))["state"] == "reached"
    after = await store.persons_tally(lad.w.warning_id)
    assert after["persons_accounted"] == before + members(lad.county, home)
    # An away household (`moved`): every member accounted for as away, the household named unreachable.
    away = next(h for h, _, _ in task.households if h != home)
    had = (await store.visit_people(lad.w.warning_id, [away]))[away][1]  # a group leader's own ack
    assert await store.report_visit(task.task_id, away, "moved", lad.clock.now(), "邻居: 外出打工")
    assert (await state_of(lad, away))["state"] == "unreachable"
    final = await store.persons_tally(lad.w.warning_id)
    assert final["persons_accounted"] == after["persons_accounted"] + members(lad.county, away) - had


async def test_bad_counts_raise_and_change_nothing(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    home = task.households[0][0]
    before = await store.persons_tally(lad.w.warning_id)
    for headcount in (-1, members(lad.county, home) + 1):
        with pytest.raises(ValueError, match="headcount"):
            await store.report_visit_persons(task.task_id, home, "reached", 1.0, None, None, headcount)
    assert await store.persons_tally(lad.w.warning_id) == before
    assert (await state_of(lad, home))["state"] != "reached"


async def test_evacuation_outcomes_account_for_persons(store: Store, small_county: County) -> None:
    lad, task = await at_16(store, small_county)
    home, other = task.households[0][0], task.households[1][0]
    n = members(lad.county, home)
    rows_ = [
        {
            "warning_id": lad.w.warning_id,
            "household_id": h,
            "village_code": lad.village,
            "cell_code": task.group_code,
            "vulnerable": False,
            "shelter_id": None,
            "persons": members(lad.county, h),
            "ordered_at": lad.clock.now(),
        }
        for h in (home, other)
    ]
    await store.order_evacuation(rows_)
    now = lad.clock.now()
    assert (
        await store.record_evacuation(
            lad.w.warning_id, home, EvacOutcome.EVACUATED, Destination.RELATIVES, None, "g1", None, now
        )
        == "recorded"
    )
    h = await state_of(lad, home)
    assert (h["state"], h["reached_by"]) == ("reached", "evacuation")
    await store.record_evacuation(
        lad.w.warning_id, other, EvacOutcome.NEEDS_HELP, None, None, "g1", "轮椅", now
    )
    assert (await state_of(lad, other))["state"] != "reached"  # needs help: not accounted for yet
    timeline = await store.accounted_timeline(lad.w.warning_id)
    assert sum(k for _, k, _, hid in timeline if hid == home) == n
    assert sum(k for _, k, _, hid in timeline if hid == other) < members(lad.county, other)
