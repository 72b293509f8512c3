"""`grid import --skip-bad-rows`: the valid rows of a directory that has bad ones, without the rows that
depend on a skipped one (a person of a skipped household, a household of a skipped cell…), each of
those listed as skipped too, so nothing half-imported refers to what is not there."""

from __future__ import annotations

from warnengine.directory.files import County
from warnengine.directory.parse import Problem
from warnengine.model import Level

_ORDER = (Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE, Level.GROUP)


def _skipped(table: str, column: str, value: str, missing: str) -> Problem:
    message = f"跳过：引用了被跳过或不存在的行 {missing} / skipped: refers to a skipped row {missing}"
    return Problem(table, 0, message, column, value)


def without_orphans(county: County, base: County | None = None) -> tuple[County, list[Problem]]:
    """`county` less every row that refers to a row it lacks (nor has `base`, the record a partial
    import adds to), and why each was left out."""
    out: list[Problem] = []
    kept: set[str] = {c.code for c in base.cells} if base else set()
    cells = []
    for level in _ORDER:
        for c in (c for c in county.cells if c.level is level):
            if c.parent is None or c.parent in kept:
                kept.add(c.code)
                cells.append(c)
            else:
                out.append(_skipped("grid", "code", c.code, f"parent {c.parent}"))
    households = [h for h in county.households if h.cell_code in kept]
    out += [
        _skipped("households", "household_id", h.household_id, f"cell {h.cell_code}")
        for h in county.households
        if h.cell_code not in kept
    ]
    homes = {h.household_id for h in households} | (
        {h.household_id for h in base.households} if base else set()
    )
    people = []
    for p in county.people:
        if p.cell_code not in kept:
            out.append(_skipped("people", "person_id", p.person_id, f"cell {p.cell_code}"))
        elif p.household_id is not None and p.household_id not in homes:
            out.append(_skipped("people", "person_id", p.person_id, f"household {p.household_id}"))
        else:
            people.append(p)
    devices = [d for d in county.devices if d.cell_code in kept]
    out += [
        _skipped("devices", "device_id", d.device_id, f"cell {d.cell_code}")
        for d in county.devices
        if d.cell_code not in kept
    ]
    leads = {p.person_id for p in people} | ({p.person_id for p in base.people} if base else set())
    points = []
    for m in county.points:
        lost = [h for h in m.households if h not in homes]
        if m.cell_code not in kept or (m.lead_person_id and m.lead_person_id not in leads) or lost:
            what = f"cell {m.cell_code}, lead {m.lead_person_id or '-'}, households {';'.join(lost) or '-'}"
            out.append(_skipped("points", "point_id", m.point_id, what))
        else:
            points.append(m)
    shifts = [x for x in county.shifts if x.cell_code in kept and x.person_id in leads]
    out += [
        _skipped("duty", "person_id", x.person_id, f"cell {x.cell_code}, person {x.person_id}")
        for x in county.shifts
        if x.cell_code not in kept or x.person_id not in leads
    ]
    vulnerable = [v for v in county.vulnerable if v.household_id in homes and v.helper_person_id in leads]
    out += [
        _skipped("vulnerable", "household_id", v.household_id, f"helper {v.helper_person_id}")
        for v in county.vulnerable
        if v.household_id not in homes or v.helper_person_id not in leads
    ]
    groups = [g for g in county.wechat_groups if g.cell_code in kept]
    out += [
        _skipped("wechat_groups", "cell_code", g.cell_code, f"cell {g.cell_code}")
        for g in county.wechat_groups
        if g.cell_code not in kept
    ]
    orgs = [o for o in county.orgs if o.cell_code in kept and set(o.responsible) <= leads]
    out += [
        _skipped("orgs", "org_id", o.org_id, f"cell {o.cell_code}, responsible {';'.join(o.responsible)}")
        for o in county.orgs
        if o.cell_code not in kept or not set(o.responsible) <= leads
    ]
    shelters, zones = county.shelters, county.zones
    return County(
        cells, households, people, devices, points, shifts, shelters, zones, vulnerable, groups, orgs
    ), out
