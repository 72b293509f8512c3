from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict

import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from warnengine.directory import County, generate_county
from warnengine.directory.parse import PHONE_RE
from warnengine.model import Device, Household, Level, Role


def _by_level(county: County) -> dict[Level, list[str]]:
    out: dict[Level, list[str]] = defaultdict(list)
    for cell in county.cells:
        out[cell.level].append(cell.code)
    return out


def test_same_seed_same_county(small_county: County) -> None:
    again = generate_county(
        seed=7, townships=3, villages=16, groups_per_village=(2, 4), households_per_group=(3, 6)
    )
    assert (
        again.orgs
        and again.orgs
        == generate_county(
            seed=7, townships=3, villages=16, groups_per_village=(2, 4), households_per_group=(3, 6)
        ).orgs
    )  # orgs too (the fixture has none)
    assert dataclasses.replace(again, orgs=[]) == small_county
    other = generate_county(
        seed=8, townships=3, villages=16, groups_per_village=(2, 4), households_per_group=(3, 6)
    )
    assert other.cells != small_county.cells
    assert other.households != small_county.households


def test_counts_per_level(county: County) -> None:
    levels = _by_level(county)
    assert len(levels[Level.COUNTY]) == 1
    assert len(levels[Level.TOWNSHIP]) == 13
    assert len(levels[Level.VILLAGE]) == 150
    parents = {c.code: c.parent for c in county.cells}
    villages_per_township = Counter(parents[v] for v in levels[Level.VILLAGE])
    assert min(villages_per_township.values()) >= 5
    groups_per_village = Counter(parents[g] for g in levels[Level.GROUP])
    assert set(groups_per_village) == set(levels[Level.VILLAGE])
    assert all(4 <= n <= 8 for n in groups_per_village.values())
    households_per_group = Counter(h.cell_code for h in county.households)
    assert set(households_per_group) == set(levels[Level.GROUP])
    assert all(8 <= n <= 16 for n in households_per_group.values())
    assert 7_000 <= len(county.households) <= 12_000
    assert all(1 <= h.members <= 6 for h in county.households)
    assert 0.05 < sum(h.vulnerable for h in county.households) / len(county.households) < 0.11
    devices_per_village = Counter(d.cell_code for d in county.devices)
    assert set(devices_per_village) == set(levels[Level.VILLAGE])
    assert all(1 <= n <= 3 for n in devices_per_village.values())


def test_codes_and_names(county: County) -> None:
    by_code = {c.code: c for c in county.cells}
    assert len(by_code) == len(county.cells)
    assert county.cells[0].code == "410526000000" and county.cells[0].parent is None
    for cell in county.cells[1:]:
        assert cell.parent in by_code
        parent = by_code[cell.parent]
        if cell.level is Level.TOWNSHIP:
            assert re.fullmatch(r"410526\d{3}000", cell.code)
            number = int(cell.code[6:9])
            assert (100 <= number <= 199) if cell.name.endswith("镇") else (200 <= number <= 299), cell
        elif cell.level is Level.VILLAGE:
            assert parent.level is Level.TOWNSHIP and re.fullmatch(r"\d{12}", cell.code)
            assert cell.code[:9] == parent.code[:9]
            number = int(cell.code[9:])
            assert (1 <= number <= 99) if cell.name.endswith("社区") else (200 <= number <= 399), cell
            assert cell.name.endswith(("社区", "村"))
        else:
            assert parent.level is Level.VILLAGE and re.fullmatch(r"\d{14}", cell.code)
            assert cell.code[:12] == parent.code and 1 <= int(cell.code[12:]) <= 99
            assert re.fullmatch(r"第[一二三四五六七八九十]+[村居]民小组", cell.name)
    townships = [c.name for c in county.cells if c.level is Level.TOWNSHIP]
    assert len(set(townships)) == len(townships) and "城关镇" in townships
    villages = [(c.parent, c.name) for c in county.cells if c.level is Level.VILLAGE]
    assert len(set(villages)) == len(villages)


def test_geometry_nests(county: County) -> None:
    geoms = {c.code: shape(c.geometry) for c in county.cells}
    for cell in county.cells:
        geom = geoms[cell.code]
        assert isinstance(geom, (Polygon, MultiPolygon)) and geom.is_valid and not geom.is_empty, cell.code
        if cell.parent is not None:
            assert geoms[cell.parent].buffer(1e-5).contains(geom), cell.code
    county_geom = geoms[county.cells[0].code]
    width_km = (county_geom.bounds[2] - county_geom.bounds[0]) * 90.6
    assert 35 < width_km < 70
    points: list[Household | Device] = [*county.households, *county.devices]
    for code in {p.cell_code for p in points}:
        shapely.prepare(geoms[code])
    outside = [p for p in points if not shapely.contains_xy(geoms[p.cell_code], p.lon, p.lat)]
    assert not outside, f"{len(outside)} households / devices outside their cell, e.g. {outside[0]}"


def test_people_and_roles(county: County) -> None:
    cells = {c.code: c for c in county.cells}
    roles_in: dict[str, Counter[Role]] = defaultdict(Counter)
    for person in county.people:
        roles_in[person.cell_code][person.role] += 1
    county_code = county.cells[0].code
    assert roles_in[county_code] == Counter({Role.GRID_HEAD: 1, Role.DISPATCHER: 4})
    for cell in county.cells:
        roles = roles_in[cell.code]
        if cell.level is Level.TOWNSHIP:
            assert roles == Counter({Role.GRID_HEAD: 1, Role.DISPATCHER: 2})
        elif cell.level is Level.VILLAGE:
            assert roles[Role.GRID_HEAD] == 1 and roles[Role.INFO_OFFICER] == 1
            assert 2 <= roles[Role.GRID_MEMBER] <= 3
        elif cell.level is Level.GROUP:
            assert roles[Role.GROUP_LEADER] == 1 and roles[Role.RESIDENT] > 0
    point_leads = [p for p in county.people if p.role is Role.POINT_LEAD]
    assert 10 <= len(point_leads) <= 25
    assert all(cells[p.cell_code].level is Level.VILLAGE for p in point_leads)

    households = {h.household_id: h for h in county.households}
    living = Counter(p.household_id for p in county.people if p.household_id)
    assert all(living[hid] == h.members for hid, h in households.items())  # the leader counts too
    ids = [p.person_id for p in county.people]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"p\d{6}", i) for i in ids)
    phones = [p.phone for p in county.people if p.phone]
    assert len(set(phones)) == len(phones)
    assert all(PHONE_RE.match(p) and re.fullmatch(r"\+861[3-9]\d{9}", p) for p in phones)
    for person in county.people:
        if person.role is not Role.RESIDENT:
            assert person.phone, person
        if person.role in (Role.RESIDENT, Role.GROUP_LEADER):
            assert person.household_id and households[person.household_id].cell_code == person.cell_code
        else:
            assert person.household_id is None
        if person.wechat_openid:
            assert re.fullmatch(r"o[A-Za-z0-9_-]{27}", person.wechat_openid)
    residents = [p for p in county.people if p.role is Role.RESIDENT]
    assert 0.6 < sum(bool(p.phone) for p in residents) / len(residents) < 0.9


def test_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        generate_county(townships=13, villages=40)  # fewer than 5 villages per township
    with pytest.raises(ValueError):
        generate_county(county_code="41052")


def test_other_centre_and_code() -> None:
    county = generate_county(
        seed=3,
        townships=2,
        villages=10,
        groups_per_village=(1, 2),
        households_per_group=(1, 2),
        county_code="330102",
        center=(120.17, 30.25),
    )
    assert county.cells[0].code == "330102000000"
    assert all(c.code.startswith("330102") for c in county.cells)
    lon, lat = shape(county.cells[0].geometry).centroid.coords[0]
    assert abs(lon - 120.17) < 0.1 and abs(lat - 30.25) < 0.1
