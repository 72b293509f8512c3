"""Evacuation (转移, issue 17) against the real record (SQLite and PostgreSQL): a red geohazard warning orders
the households its monitoring point threatens out, once, each to the nearest shelter with room (vulnerable
first), and tells them by message; visit lists name the shelter; a refusal opens a field report and gives
the village grid head a second visit; check-ins count once; a full shelter is flagged over capacity."""

from __future__ import annotations

import dataclasses

from tests.escalate.test_ladder import Ladder, start
from warnengine.api.evacuation_counts import evacuation_status
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.evacuate import EVAC_STEP, EVAC_VISIT_STEP, assign
from warnengine.model import MonitoringPoint
from warnengine.model.evacuation import EvacOutcome, Shelter
from warnengine.model.field_report import ReportKind


def with_point_and_shelters(c: County) -> tuple[County, list[str]]:
    """The ladder's village gets a monitoring point threatening four of its households, and two shelters:
    a near one with room for 5 and a far one for 100."""
    village = next(x.code for x in c.cells if x.level.value == "village")
    homes = sorted((h for h in c.households if h.cell_code.startswith(village)), key=lambda h: h.household_id)
    threatened = [h.household_id for h in homes[:4]]
    x, y = homes[0].lon, homes[0].lat
    point = MonitoringPoint(
        point_id="gp-evac",
        cell_code=homes[0].cell_code,
        name="后山滑坡点",
        lon=x,
        lat=y,
        kind="landslide",
        households=tuple(threatened),
    )
    near = Shelter(shelter_id="S-near", cell_code=village, name="村小学", lon=x, lat=y, capacity=5)
    far = Shelter(shelter_id="S-far", cell_code=village, name="镇中学", lon=x + 0.2, lat=y, capacity=100)
    return dataclasses.replace(c, points=[*c.points, point], shelters=[near, far]), threatened


async def ordered(store: Store, small_county: County) -> tuple[Ladder, list[str]]:
    county, threatened = with_point_and_shelters(small_county)
    lad = await start(store, county)
    await store.import_directory([], [], [], [], shelters=county.shelters)
    lad.clock.advance(60)
    await lad.sweep()
    return lad, threatened


def test_vulnerable_first_to_the_nearest_with_room() -> None:
    near = Shelter(shelter_id="a", cell_code="c", name="a", lon=0.0, lat=0.0, capacity=4)
    far = Shelter(shelter_id="b", cell_code="c", name="b", lon=1.0, lat=0.0, capacity=10)
    homes = [("h1", "v", "g", False, 3, 0.0, 0.0), ("h2", "v", "g", True, 3, 0.1, 0.0)]
    assert assign(homes, [near, far]) == {"h2": "a", "h1": "b"}  # h2 is vulnerable: the near places
    assert assign(homes, []) == {"h1": None, "h2": None}
    full = [("h3", "v", "g", False, 50, 0.0, 0.0)]
    assert assign(full, [near, far]) == {"h3": "a"}  # nowhere has room: the nearest, flagged over capacity


async def test_order_once_named_shelters_messages(store: Store, small_county: County) -> None:
    lad, threatened = await ordered(store, small_county)
    rows = await store.evacuation_households(lad.w.warning_id)
    assert sorted(r["household_id"] for r in rows) == sorted(threatened)
    assert {r["shelter_id"] for r in rows} <= {"S-near", "S-far"} and all(r["outcome"] is None for r in rows)
    told = [d for d in await lad.deliveries() if d["step"] == EVAC_STEP]
    members = {p.person_id for p in lad.county.people if p.household_id in threatened}
    assert told and {d["person_id"] for d in told} <= members
    reachable = {
        h
        for h in threatened
        if any(m.phone or m.wechat_openid or m.app_token for m in lad.directory.members[h])
    }
    assert reachable and {d["household_id"] for d in told} == reachable  # every door with an address
    assert all("转移" in d["text"] and ("村小学" in d["text"] or "镇中学" in d["text"]) for d in told)
    n = len(await lad.deliveries())
    lad.clock.advance(60)
    await lad.sweep()
    assert len([d for d in await lad.deliveries() if d["step"] == EVAC_STEP]) == len(told)  # once
    assert len(await lad.deliveries()) >= n
    # The ladder's visit step (at 10 minutes) names each threatened door's shelter.
    lad.clock.advance(10 * 60)
    await lad.sweep()
    visit_msgs = [str(d["text"]) for d in await lad.deliveries() if d["step"] == 2]
    assert any("→村小学" in t or "→镇中学" in t for t in visit_msgs)


async def test_outcomes_refusal_second_visit_checkins(store: Store, small_county: County) -> None:
    lad, threatened = await ordered(store, small_county)
    wid, now = lad.w.warning_id, lad.clock.now()
    gone, stays, helpme, away = threatened
    rec = store.record_evacuation
    assert await rec(wid, gone, EvacOutcome.EVACUATED, "shelter", None, "g1", None, now) == "recorded"
    assert await rec(wid, gone, EvacOutcome.EVACUATED, "shelter", None, "g1", None, now) == "same"
    assert await rec(wid, stays, EvacOutcome.REFUSED, None, None, "g1", "老人不肯走", now) == "recorded"
    assert await rec(wid, stays, EvacOutcome.REFUSED, None, None, "g1", "again", now) == "same"
    assert await rec(wid, helpme, EvacOutcome.NEEDS_HELP, None, None, "g1", "轮椅", now) == "recorded"
    assert await rec(wid, away, EvacOutcome.AWAY, None, None, "g1", None, now) == "recorded"
    assert await rec(wid, "nosuch", EvacOutcome.AWAY, None, None, "g1", None, now) == "missing"
    kinds = {(r.household_id, r.kind) for r in await store.field_reports()}
    assert kinds == {(stays, ReportKind.REFUSED), (helpme, ReportKind.NEEDS_HELP)}
    # The next sweep: the village grid head on duty gets a second visit to the refusing door, once.
    lad.clock.advance(60)
    await lad.sweep()
    head = next(s.person_id for s in lad.directory.staff[lad.village] if s.role.value == "grid_head")
    tasks = [x for x in await store.visit_tasks(wid) if any(h == stays for h, _, _ in x.households)]
    assert len(tasks) == 1 and tasks[0].assignee == head and tasks[0].level == 1
    msg = [d for d in await lad.deliveries() if d["step"] >= EVAC_VISIT_STEP and d["person_id"] == head]
    assert msg and stays in str(msg[0]["text"])
    lad.clock.advance(60)
    await lad.sweep()
    assert len([x for x in await store.visit_tasks(wid) if any(h == stays for h, _, _ in x.households)]) == 1
    # Check-ins: a person once; a household headcount once; the near shelter (5) overfills.
    person = next(p for p in lad.county.people if p.household_id == gone)
    assert await store.check_in(wid, "S-near", person.person_id, gone, 1, "keeper", now) == "checked_in"
    assert await store.check_in(wid, "S-near", person.person_id, gone, 1, "keeper", now) == "already"
    key = f"household:{helpme}"
    assert await store.check_in(wid, "S-near", key, helpme, 6, "keeper", now) == "checked_in"
    assert await store.check_in(wid, "S-far", key, helpme, 6, "keeper", now) == "already"
    status = await evacuation_status(store, wid)
    members = {h.household_id: h.members for h in lad.county.households}
    assert status.threatened_households == 4 and status.threatened_persons == sum(
        members[h] for h in threatened
    )
    assert (
        status.evacuated_persons == members[gone] and status.refused == status.needs_help == status.away == 1
    )
    assert status.checked_in == 7 and status.unrecorded == 0
    (village,) = status.villages
    assert village.code == lad.village and village.checked_in == 7
    near = next(s for s in status.shelters if s.shelter_id == "S-near")
    assert near.checked_in == 7 and near.capacity == 5 and near.over_capacity
