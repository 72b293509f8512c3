"""A realistic, deterministic synthetic county: nested Voronoi grid, codes, names, households, staff.

Codes follow 统计用区划代码: 6-digit county + 3-digit township (镇 100-199, 乡 200-299) + 3-digit
village (社区 001-099, 村 200-399). Village groups (村民小组) have no national code; ours is the village
code + 2 digits (14 digits).
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

import numpy as np
import shapely

import warnengine.directory.naming as naming
import warnengine.directory.population as population
from warnengine.directory.files import County, gc_paused
from warnengine.directory.geometry import (
    Cellular,
    Frame,
    Points,
    clustered_points,
    county_outline,
    elevation,
    partition,
    to_geojson,
)
from warnengine.directory.orgs_gen import generate_orgs
from warnengine.directory.points import monitoring_points
from warnengine.directory.population import Contacts, Draft
from warnengine.model import Cell, Device, Household, Level, Role

_MIN_VILLAGES = 5


@dataclass
class _Place:
    """A cell while the county is built: km geometry and seed first, (lon, lat) geometry at the end."""

    code: str
    name: str
    parent: str | None
    level: Level
    km: Cellular
    seed: Points  # (2,) km; the settlement / seat position
    community: bool = False


def generate_county(
    seed: int = 1,
    townships: int = 13,
    villages: int = 150,
    groups_per_village: tuple[int, int] = (4, 8),
    households_per_group: tuple[int, int] = (8, 16),
    county_code: str = "410526",
    center: tuple[float, float] = (114.52, 35.58),
    orgs_per_township: int = 3,
) -> County:
    """Generate a county; the same arguments always give the same county. Ranges are inclusive."""
    if not (len(county_code) == 6 and county_code.isdigit()):
        raise ValueError("county_code must be 6 digits")
    if not 1 <= townships <= 100 or villages < _MIN_VILLAGES * townships:
        raise ValueError(f"need 1-100 townships and at least {_MIN_VILLAGES} villages per township")
    if not (1 <= groups_per_village[0] <= groups_per_village[1] <= 99):
        raise ValueError("groups_per_village must be within 1..99")
    if not 1 <= households_per_group[0] <= households_per_group[1]:
        raise ValueError("households_per_group must be at least 1")
    rng = random.Random(seed)
    nrng = np.random.default_rng(rng.getrandbits(64))  # numpy's generator, seeded from ours

    outline = county_outline(nrng)
    county = _Place(county_code + "000000", naming.COUNTY_NAME, None, Level.COUNTY, outline, np.zeros(2))
    town_places = _townships(rng, nrng, county, townships)
    village_places: list[_Place] = []
    for township, count in zip(
        town_places, _allocate(rng, villages, [t.km.area for t in town_places]), strict=True
    ):
        village_places += _villages(rng, nrng, township, count)
    group_places: list[_Place] = []
    for village in village_places:
        count = rng.randint(*groups_per_village)
        cells, seeds = partition(nrng, village.km, count, lloyd=1)
        order = _reading_order(seeds)
        for number, i in enumerate(order, start=1):
            name = naming.group_name(number, village.community)
            group_places.append(
                _Place(
                    f"{village.code}{number:02d}",
                    name,
                    village.code,
                    Level.GROUP,
                    cells[i],
                    seeds[i],
                    village.community,
                )
            )

    frame = Frame(*center)
    places = [county, *town_places, *village_places, *group_places]
    lonlat = {p.code: frame.to_lonlat(p.km) for p in places}
    cells = [
        Cell(code=p.code, level=p.level, parent=p.parent, name=p.name, geometry=to_geojson(lonlat[p.code]))
        for p in places
    ]
    with gc_paused():
        populated = _populate(
            rng, nrng, frame, cells, lonlat, town_places, village_places, group_places, households_per_group
        )
    # Schools, enterprises… (issue 17), from a generator of their own: nothing above changes with them.
    seats = [(t.code, [(v.code, v.name) for v in village_places if v.parent == t.code]) for t in town_places]
    orgs = generate_orgs(
        random.Random(rng.getrandbits(64)), seats, populated.households, populated.people, orgs_per_township
    )
    return dataclasses.replace(populated, orgs=orgs)


def _townships(rng: random.Random, nrng: np.random.Generator, county: _Place, n: int) -> list[_Place]:
    """Township cells: the one nearest the centre is the county seat's 城关镇; ~60% of the rest are 镇."""
    cells, seeds = partition(nrng, county.km, n, lloyd=1)
    seat = int(np.argmin(np.hypot(seeds[:, 0], seeds[:, 1])))
    rest = [i for i in _reading_order(seeds) if i != seat]
    towns = set(rng.sample(rest, round(0.6 * len(rest))))
    taken = {naming.SEAT_TOWNSHIP_STEM}
    out = [
        _Place(
            f"{county.code[:6]}100000",
            naming.SEAT_TOWNSHIP_STEM + "镇",
            county.code,
            Level.TOWNSHIP,
            cells[seat],
            seeds[seat],
        )
    ]
    for kind, first in (("镇", 101), ("乡", 200)):
        chosen = [i for i in rest if (i in towns) == (kind == "镇")]
        for number, i in enumerate(chosen, start=first):
            name = naming.unique_stem(rng, taken) + kind
            out.append(
                _Place(
                    f"{county.code[:6]}{number:03d}000", name, county.code, Level.TOWNSHIP, cells[i], seeds[i]
                )
            )
    return out


def _villages(rng: random.Random, nrng: np.random.Generator, township: _Place, n: int) -> list[_Place]:
    """Villages of one township; the ones nearest the township seat are urban communities (社区)."""
    cells, seeds = partition(nrng, township.km, n, lloyd=1)
    if township.code[6:9] == "100":
        communities = rng.randint(4, 6)
    elif township.name.endswith("镇"):
        communities = rng.randint(1, 2)
    else:
        communities = rng.randint(0, 1)
    communities = min(communities, n // 2)
    by_distance = np.argsort(np.hypot(*(seeds - township.seed).T), kind="stable")
    urban = [int(i) for i in by_distance[:communities]]
    rural = [i for i in _reading_order(seeds) if i not in urban]
    if len(rural) > 200:
        raise ValueError("more than 200 villages in one township do not fit the 200-399 code range")
    prefix, out = township.code[:9], []
    for number, (i, name) in enumerate(zip(urban, naming.community_names(rng, len(urban)), strict=True), 1):
        out.append(
            _Place(
                f"{prefix}{number:03d}",
                name,
                township.code,
                Level.VILLAGE,
                cells[i],
                seeds[i],
                community=True,
            )
        )
    taken: set[str] = set()
    for number, i in enumerate(rural, start=200):
        name = naming.unique_stem(rng, taken, modifier_p=0.3) + "村"
        out.append(_Place(f"{prefix}{number:03d}", name, township.code, Level.VILLAGE, cells[i], seeds[i]))
    return out


def _allocate(rng: random.Random, total: int, areas: list[float]) -> list[int]:
    """Split `total` villages over townships: at least the minimum each, the rest by (noisy) area."""
    weights = [a * rng.uniform(0.7, 1.3) for a in areas]
    spare = total - _MIN_VILLAGES * len(areas)
    shares = [spare * w / sum(weights) for w in weights]
    counts = [_MIN_VILLAGES + int(s) for s in shares]
    by_remainder = sorted(range(len(areas)), key=lambda i: int(shares[i]) - shares[i])
    for i in by_remainder[: total - sum(counts)]:  # largest remainders get the leftovers
        counts[i] += 1
    return counts


def _reading_order(seeds: Points) -> list[int]:
    """Indices north to south in four bands, west to east within a band, like numbering on a map."""
    bands = np.floor(-seeds[:, 1] / max(float(np.ptp(seeds[:, 1])) / 4, 1e-9))
    return [int(i) for i in np.lexsort((seeds[:, 0], bands))]


def _populate(
    rng: random.Random,
    nrng: np.random.Generator,
    frame: Frame,
    cells: list[Cell],
    lonlat: dict[str, Cellular],
    town_places: list[_Place],
    village_places: list[_Place],
    group_places: list[_Place],
    households_per_group: tuple[int, int],
) -> County:
    contacts = Contacts(rng)
    county_code = cells[0].code
    staff: list[Draft] = [population.staff(contacts, county_code, Role.GRID_HEAD)]
    staff += [population.staff(contacts, county_code, Role.DISPATCHER) for _ in range(4)]
    for t in town_places:  # A/B duty dispatchers
        roles = [Role.GRID_HEAD, Role.DISPATCHER, Role.DISPATCHER]
        staff += [population.staff(contacts, t.code, r) for r in roles]
    for v in village_places:
        roles = [Role.GRID_HEAD] + [Role.GRID_MEMBER] * rng.randint(2, 3) + [Role.INFO_OFFICER]
        staff += [population.staff(contacts, v.code, r) for r in roles]
    # Geohazard monitoring points sit in the hills: one point lead per three of the hilliest third.
    phases = (rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi))
    relief = elevation(np.array([v.seed for v in village_places]), phases)
    hilly = sorted(village_places[int(i)].code for i in np.argsort(-relief)[: len(village_places) // 3])
    staff += [population.staff(contacts, code, Role.POINT_LEAD) for code in hilly[::3]]

    households: list[Household] = []
    leaders: list[Draft] = []
    residents: list[Draft] = []
    devices: list[Device] = []
    groups_of: dict[str, list[_Place]] = {}
    for g in group_places:
        groups_of.setdefault(g.parent or "", []).append(g)
    for v in village_places:
        village = lonlat[v.code]
        centre = _inside_or_representative(frame.point_to_lonlat(v.seed), village)
        groups = groups_of[v.code]
        sizes = [rng.randint(*households_per_group) for _ in groups]
        # A settlement grows with its population: ~300 m across for 70 households, ~750 m for 350.
        sigma = 0.04 * math.sqrt(sum(sizes)) / frame.km_per_deg
        for g, size in zip(groups, sizes, strict=True):
            area = lonlat[g.code]
            points = clustered_points(nrng, area, size, _group_centre(centre, area), sigma)
            homes = [
                population.household(rng, f"h{len(households) + k + 1:07d}", g.code, float(x), float(y))
                for k, (x, y) in enumerate(points)
            ]
            households += homes
            leader = population.pick_leader(rng, homes)
            for k, home in enumerate(homes):
                members = population.residents(contacts, home)
                if k == leader:  # the leader is the head of one of the group's own households
                    head = members.pop(0)
                    head.role = Role.GROUP_LEADER
                    leaders.append(head if head.phone else contacts.fill(head, 1.0, 0.9, 0.95))
                residents += members
        spots = clustered_points(nrng, village, rng.randint(1, 3), centre, 1.5 * sigma)
        devices += [
            Device(device_id=f"spk-{v.code}-{k}", cell_code=v.code, lon=float(x), lat=float(y))
            for k, (x, y) in enumerate(spots, start=1)
        ]
    people = population.number(staff + leaders + residents)
    hazards = monitoring_points(random.Random(rng.getrandbits(64)), frame, people, households, lonlat)
    return County(cells=cells, households=households, people=people, devices=devices, points=hazards)


def _inside_or_representative(point: Points, area: Cellular) -> Points:
    if shapely.contains_xy(area, *point):
        return point
    return np.asarray(shapely.get_coordinates(area.representative_point())[0])


def _group_centre(settlement: Points, group: Cellular) -> Points:
    """Where a group's houses cluster: at the village settlement if it lies in the group, else on the
    group's side nearest to it (pulled a little inward), so a village's groups form one settlement."""
    if shapely.contains_xy(group, *settlement):
        return settlement
    near = shapely.get_coordinates(shapely.shortest_line(group, shapely.Point(settlement)))[0]
    inner = shapely.get_coordinates(group.representative_point())[0]
    return np.asarray(near + 0.25 * (inner - near))
