"""Pre-flight at release: the responsible persons of the reached cells (and above) whom no call can reach
are listed on the preview; those with a landline are reachable by voice, residents are not listed."""

from __future__ import annotations

from tests.plan.conftest import directory_of
from warnengine.directory import County
from warnengine.model import Area, Level, Role, Severity
from warnengine.plan.preflight import unreachable_staff
from warnengine.plan.preview import preview_reach


def test_staff_without_a_phone_are_listed_before_release(small_county: County) -> None:
    village = next(c for c in small_county.cells if c.level is Level.VILLAGE)
    other = next(c for c in small_county.cells if c.level is Level.VILLAGE and c.parent != village.parent)
    staff = [p for p in small_county.people if p.cell_code == village.code and p.role is not Role.RESIDENT]
    town_head = next(
        p for p in small_county.people if p.cell_code == village.parent and p.role is Role.GRID_HEAD
    )
    far = next(p for p in small_county.people if p.cell_code == other.code and p.role is Role.GRID_HEAD)
    resident = next(
        p for p in small_county.people if p.cell_code[:12] == village.code and p.role is Role.RESIDENT
    )
    silent = {staff[0].person_id, town_head.person_id, far.person_id, resident.person_id}
    landline = staff[1].person_id
    people = []
    for p in small_county.people:
        if p.person_id in silent:
            p = p.model_copy(update={"phone": None, "phone_kind": None})
        elif p.person_id == landline:
            p = p.model_copy(update={"phone": "+868162345678", "phone_kind": "fixed_line"})
        people.append(p)
    county = County(small_county.cells, small_county.households, people, small_county.devices)
    directory = directory_of(county)
    out = preview_reach(directory, [Area(codes=[village.code])], severity=Severity.RED)
    listed = {u["person_id"]: u for u in out["unreachable"]}
    # The village's staff and the township's head; not the other township's, nor a resident, nor the
    # landline (a voice call reaches it).
    assert set(listed) == {staff[0].person_id, town_head.person_id}
    assert out["unreachable_count"] == 2
    assert listed[town_head.person_id]["cell_code"] == village.parent
    assert "no phone" in listed[staff[0].person_id]["reason"]
    assert unreachable_staff(directory, [other.code])[1] >= 1  # the far grid head, for that area
