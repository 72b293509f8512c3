"""The simulated field for issue 17: the duty room taking field reports, visitors recording evacuation
outcomes of the threatened households, shelter keepers checking families in; and the summary's
`field_reports` and `evacuation` sections.

Scenario knobs (`Scenario.field`): how soon a duty person takes a report, whether shelters are placed in a
generated county (one per village with threatened households), the evacuation outcomes and how soon the
evacuated arrive at their shelter. Every draw comes from the world's seeded random generator.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import Role
from warnengine.model.evacuation import Destination, EvacOutcome, Shelter
from warnengine.model.field_report import ReportState
from warnengine.model.vulnerable import VulnerableCategory, VulnerableEntry
from warnengine.report.closure import MINUTE_MARKS
from warnengine.sim.scenario import FieldSpec
from warnengine.sim.world import World

TAKE_GOAL_S = 10 * 60  # the summary's `taken_within_10_min`


def with_shelters(spec: FieldSpec, county: County) -> County:
    """The county with shelters placed, when the scenario asks and its directory has none (and with its
    vulnerable register, see `with_register`)."""
    county = with_register(spec, county)
    if not spec.shelters or county.shelters:
        return county
    return dataclasses.replace(county, shelters=place_shelters(county, spec.shelter_capacity))


def with_register(spec: FieldSpec, county: County) -> County:
    """The county with a vulnerable register, when the scenario asks and its directory has none: each
    vulnerable household's helper is its group's leader while they hold fewer than `helper_doors`, else the
    least loaded of the village's other staff (as counties share 包保 out: a few households each); a
    household whose village has no staff is left out. Its category is drawn from the household id
    (stable across runs)."""
    if not spec.helpers or county.vulnerable:
        return county
    leaders: dict[str, str] = {}
    village_staff: dict[str, list[str]] = {}
    for p in sorted(county.people, key=lambda p: p.person_id):
        if p.role is Role.GROUP_LEADER:
            leaders.setdefault(p.cell_code, p.person_id)
        elif p.role in HELPER_ROLES:
            village_staff.setdefault(p.cell_code[:12], []).append(p.person_id)
    load: dict[str, int] = {}
    kinds = list(VulnerableCategory)
    register = []
    for h in sorted(county.households, key=lambda h: h.household_id):
        if not h.vulnerable:
            continue
        leader = leaders.get(h.cell_code)
        if leader is not None and load.get(leader, 0) < spec.helper_doors:
            helper = leader
        else:
            pool = village_staff.get(h.cell_code[:12], []) + ([leader] if leader else [])
            if not pool:
                continue
            helper = min(pool, key=lambda p: (load.get(p, 0), p))
        load[helper] = load.get(helper, 0) + 1
        category = kinds[sum(map(ord, h.household_id)) % len(kinds)]
        register.append(
            VulnerableEntry(household_id=h.household_id, category=category, helper_person_id=helper)
        )
    return dataclasses.replace(county, vulnerable=register)


HELPER_ROLES = (Role.GRID_MEMBER, Role.INFO_OFFICER, Role.POINT_LEAD)


def place_shelters(county: County, capacity: int) -> list[Shelter]:
    """One shelter per village whose households a monitoring point threatens, at a household of the
    village (a school, a village hall: somewhere inside the village)."""
    threatened = {h for p in county.points for h in p.households}
    first: dict[str, Any] = {}
    for h in sorted(county.households, key=lambda h: h.household_id):
        if h.household_id in threatened:
            first.setdefault(h.cell_code[:12], h)
    return [
        Shelter(shelter_id=f"S{v}", cell_code=v, name=f"{v}安置点", lon=h.lon, lat=h.lat, capacity=capacity)
        for v, h in sorted(first.items())
    ]


async def field_work(spec: FieldSpec, world: World, store: Store, warning_id: str) -> None:
    now = world.clock.now()
    await _take_reports(spec, world, store, now)
    await _evacuate(spec, world, store, warning_id, now)


async def _take_reports(spec: FieldSpec, world: World, store: Store, now: float) -> None:
    lo, hi = spec.take_delay_min
    for r in await store.field_reports((ReportState.OPEN.value,), 10_000):
        due = world.take_at.setdefault(r.report_id, r.created_at + world.rng.uniform(lo, hi) * 60)
        if due <= now:
            await store.take_field_report(r.report_id, "sim-duty", now)


async def _evacuate(spec: FieldSpec, world: World, store: Store, warning_id: str, now: float) -> None:
    kinds, weights = zip(*spec.evacuation_outcomes.items(), strict=True)
    for h in await store.evacuation_households(warning_id):
        hid = str(h["household_id"])
        if h["outcome"] is None:
            lo, hi = spec.evacuate_delay_min
            due = world.take_at.setdefault(
                f"evac:{hid}", float(h["ordered_at"]) + world.rng.uniform(lo, hi) * 60
            )
            if due > now:
                continue
            outcome = EvacOutcome(str(world.rng.choices(kinds, weights)[0]))
            dest = None
            if outcome is EvacOutcome.EVACUATED:
                relatives = world.rng.random() < spec.to_relatives or not h["shelter_id"]
                dest = (Destination.RELATIVES if relatives else Destination.SHELTER).value
            await store.record_evacuation(warning_id, hid, outcome, dest, None, "sim-visitor", None, now)
        elif h["outcome"] == "evacuated" and h["destination"] == "shelter":
            lo, hi = spec.arrive_delay_min
            at = world.take_at.setdefault(
                f"arrive:{hid}", float(h["outcome_at"]) + world.rng.uniform(lo, hi) * 60
            )
            if at <= now and not world.take_at.get(f"in:{hid}"):
                world.take_at[f"in:{hid}"] = now
                persons = int(h["evacuated_persons"])
                if persons:
                    key = f"household:{hid}"
                    await store.check_in(
                        warning_id, str(h["shelter_id"]), key, hid, persons, "sim-keeper", now
                    )


async def field_summary(store: Store, warning_id: str, t0: float) -> dict[str, Any]:
    reports = await store.field_reports((), 100_000)
    homes = await store.evacuation_households(warning_id)
    evacuated = [
        (float(h["outcome_at"]), int(h["evacuated_persons"])) for h in homes if h["outcome"] == "evacuated"
    ]
    return {
        "helpers": await _helper_visits(store, warning_id),
        "field_reports": {
            "created": len(reports),
            "taken_within_10_min": sum(
                1 for r in reports if r.taken_at is not None and r.taken_at - r.created_at <= TAKE_GOAL_S
            ),
            "open": sum(1 for r in reports if r.state is ReportState.OPEN),
            "county_duty_called": sum(1 for r in reports if r.calls),
        },
        "evacuation": {
            "threatened_households": len(homes),
            "threatened_persons": sum(int(h["persons"]) for h in homes),
            "evacuated_by_min": {
                str(m): sum(n for at, n in evacuated if at - t0 <= m * 60) for m in MINUTE_MARKS
            },
            "refused": sum(1 for h in homes if h["outcome"] == "refused"),
            "needs_help": sum(1 for h in homes if h["outcome"] == "needs_help"),
            "away": sum(1 for h in homes if h["outcome"] == "away"),
            "checked_in": sum((await store.checked_in(warning_id)).values()),
        },
    }


async def _helper_visits(store: Store, warning_id: str) -> dict[str, Any]:
    """The vulnerable register's households of the warning, and those whose own helper (包保) reported
    the visit."""
    helper_of = {v.household_id: v.helper_person_id for v in await store.vulnerable_register()}
    named = await store.helper_names(warning_id)
    tasks = await store.visit_tasks(warning_id, ("open", "accepted", "done", "cancelled"))
    visited = {
        h for task in tasks for h, _, out in task.households if out and helper_of.get(h) == task.assignee
    }
    return {"households": len(named), "visited_by_helper": len(visited & set(named))}
