"""Doors with their own person at step 0 (issue 17), against the real record (SQLite and PostgreSQL):
the vulnerable register's helper gets their households at once and is 叫应'd, for the policy's severities
only; a monitoring point's lead — of any kind of point — gets the point's households door by door and is
asked for a report from the point. Visit lists and the closure report name the helper."""

from __future__ import annotations

import dataclasses

from tests.escalate.test_ladder import POLICY, Ladder, start
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.first_doors import HELPER_STEP, POINT_STEP
from warnengine.escalate.ladder import escalate
from warnengine.escalate.visit_text import visit_text
from warnengine.model import MonitoringPoint, Person, Role
from warnengine.model.records import VisitTask
from warnengine.model.vulnerable import Mobility, VulnerableCategory, VulnerableEntry
from warnengine.report.closure import closure_report, to_html
from warnengine.resolve.directory import Directory, Register


def _village_homes(c: County) -> tuple[str, list[str]]:
    village = next(x.code for x in c.cells if x.level.value == "village")
    homes = sorted(h.household_id for h in c.households if h.cell_code.startswith(village))
    return village, homes


async def with_register(store: Store, c: County) -> tuple[Ladder, list[str], Person]:
    """The ladder's village with two of its households in the register, a neighbour as their helper."""
    village, homes = _village_homes(c)
    lad = await start(store, c)
    open_ = {h for h, *_ in await store.unreached_households(lad.w.warning_id)}
    homes = [h for h in homes if h in open_]  # doors nobody has answered for
    helper = next(
        p
        for p in c.people
        if p.role is Role.RESIDENT
        and p.phone
        and p.household_id not in homes[:2]
        and p.cell_code.startswith(village)
    )
    register = [
        VulnerableEntry(
            household_id=homes[0],
            category=VulnerableCategory.LIVING_ALONE,
            mobility=Mobility.WHEELCHAIR,
            helper_person_id=helper.person_id,
        ),
        VulnerableEntry(
            household_id=homes[1], category=VulnerableCategory.BEDRIDDEN, helper_person_id=helper.person_id
        ),
    ]
    await store.import_directory([], [], [], [], vulnerable=register)
    lad.directory = await Directory.load(store)
    return lad, homes[:2], helper


async def test_helper_gets_the_door_at_step_0_and_is_called(store: Store, small_county: County) -> None:
    lad, doors, helper = await with_register(store, small_county)
    lad.clock.advance(30)  # long before the ladder's visit step (10 minutes)
    await lad.sweep()
    wid = lad.w.warning_id
    mine = [x for x in await store.visit_tasks(wid) if x.assignee == helper.person_id]
    unreached = {h for h, *_ in await store.unreached_households(wid)}
    assert mine and {h for x in mine for h, _, _ in x.households} == set(doors) <= unreached
    assert all(x.level == 0 and all(vul for _, vul, _ in x.households) for x in mine)
    called = [d for d in await lad.deliveries() if d["step"] == HELPER_STEP]
    assert called and {d["person_id"] for d in called} == {helper.person_id}
    text = str(called[0]["text"])
    assert "叫应" in text and "包保" in text and "独居·需轮椅" in text and doors[0] in text
    # Once per version, and the ladder's visit step does not hand those doors to anyone else.
    lad.clock.advance(11 * 60)
    await lad.sweep()
    assert len([d for d in await lad.deliveries() if d["step"] == HELPER_STEP]) == len(called)
    others = [x for x in await store.visit_tasks(wid) if x.assignee != helper.person_id]
    assert not {h for x in others for h, _, _ in x.households} & set(doors)
    # The closure report names the helper of each door not reached.
    report = await closure_report(store, wid)
    assert report is not None and report["vulnerable"]["with_helper"] == 2
    named = {u["household_id"]: u["helper"] for u in report["unreached"] if u["household_id"] in doors}
    assert named and all(v == f"{helper.name}（{helper.person_id}）" for v in named.values())
    assert f"包保 {helper.name}（{helper.person_id}）" in to_html(report)


async def test_no_helper_first_for_other_severities(store: Store, small_county: County) -> None:
    lad, _doors, helper = await with_register(store, small_county)
    policy = POLICY.model_copy(update={"helper_first": ()})
    lad.clock.advance(30)
    await escalate(store, lad.directory, policy, lad.emit)
    assert not [x for x in await store.visit_tasks(lad.w.warning_id) if x.assignee == helper.person_id]
    assert not [d for d in await lad.deliveries() if d["step"] == HELPER_STEP]


def test_visit_lists_name_the_helper() -> None:
    task = VisitTask("v-1", "w", 1, "v", "g", "leader", 0, "open", (("h1", True, None), ("h2", False, None)))
    register = {"h1": Register("elderly", "assisted", "p9", "王大妈")}
    text = visit_text([task], {"h1": "村小学"}, register)
    assert "h1(重点)(包保:王大妈)→村小学" in text and "h2" in text and "h2(包保" not in text


async def test_point_lead_task_door_by_door(store: Store, small_county: County) -> None:
    """A flood-prone spot (易涝点) the warning covers: its lead gets its households door by door, once."""
    village, homes = _village_homes(small_county)
    group = next(h.cell_code for h in small_county.households if h.household_id == homes[0])
    lead = Person(
        person_id="lead-flood",
        household_id=None,
        cell_code=village,
        name="李点长",
        role=Role.POINT_LEAD,
        phone="+8613900000077",
    )
    point = MonitoringPoint(
        point_id="fp-1",
        cell_code=group,
        name="河滩易涝点",
        lon=0.0,
        lat=0.0,
        kind="flood_prone",
        lead_person_id=lead.person_id,
        households=tuple(homes[:3]),
    )
    county = dataclasses.replace(
        small_county, people=[*small_county.people, lead], points=[*small_county.points, point]
    )
    lad = await start(store, county)
    lad.clock.advance(30)
    await lad.sweep()
    wid = lad.w.warning_id
    tasks = [x for x in await store.visit_tasks(wid) if x.assignee == lead.person_id]
    assert len(tasks) == 1 and [h for h, _, _ in tasks[0].households] == homes[:3]
    asked = [d for d in await lad.deliveries() if d["step"] == POINT_STEP]
    assert {d["person_id"] for d in asked} == {lead.person_id}
    text = str(asked[0]["text"])
    assert "河滩易涝点" in text and "易涝点" in text and all(h in text for h in homes[:3])
    assert "现场情况" in text  # asked for a report from the point
    lad.clock.advance(60)
    await lad.sweep()
    assert len([d for d in await lad.deliveries() if d["step"] == POINT_STEP]) == len(asked)
