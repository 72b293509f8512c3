"""The simulator's vulnerable register (issue 17): a generated county gets a helper for each vulnerable
household — its group leader for the first few, then the village's other staff, least loaded first; for a
red warning (the policy's helper_first) the helpers go at once and the summary counts the doors their own
helper visited."""

from __future__ import annotations

from pathlib import Path

from tests.sim.test_simulate import simulate
from warnengine.directory import generate_county
from warnengine.model import Role
from warnengine.sim.field import HELPER_ROLES as HELPERS
from warnengine.sim.field import with_register
from warnengine.sim.scenario import FieldSpec


def test_helpers_hold_a_few_doors_each() -> None:
    county = generate_county(seed=3, townships=2, villages=10, households_per_group=(40, 50))
    register = with_register(FieldSpec(helper_doors=3), county).vulnerable
    people = {p.person_id: p for p in county.people}
    homes = {h.household_id: h for h in county.households}
    assert {v.household_id for v in register} == {h.household_id for h in county.households if h.vulnerable}
    load: dict[str, int] = {}
    for v in register:
        assert v.helper_person_id is not None
        helper, home = people[v.helper_person_id], homes[v.household_id]
        assert helper.cell_code[:12] == home.cell_code[:12]  # someone of the household's own village
        assert helper.role in (Role.GROUP_LEADER, *HELPERS)
        if helper.role is Role.GROUP_LEADER:
            assert helper.cell_code == home.cell_code  # a leader helps in their own group only
        load[helper.person_id] = load.get(helper.person_id, 0) + 1
    # Nobody holds more than three while someone of their village who could help holds fewer.
    for pid, n in load.items():
        if n > 3:
            village = people[pid].cell_code[:12]
            staff = [p for p in county.people if p.cell_code[:12] == village and p.role in HELPERS]
            assert all(load.get(p.person_id, 0) >= 3 for p in staff), pid
    assert max(load.values()) > 1  # the county is large enough that the rule was exercised


def test_helpers_visit_their_doors(tmp_path: Path) -> None:
    out = simulate(tmp_path, "--in-process")
    helpers = out["helpers"]
    assert helpers["households"] > 0
    # A fifth of the staff never answer (and never walk): most helpers still visit their doors.
    assert 0.5 * helpers["households"] <= helpers["visited_by_helper"] <= helpers["households"]
