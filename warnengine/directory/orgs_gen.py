"""Organisations of a generated county (issue 17): a few per township — a school in its seat, then
kindergartens, enterprises, construction sites and scenic spots in its villages — each at a household's
place in a group, with one or two residents of the village with a phone as its responsible persons.

Drawn from a generator of their own, seeded after everything else, so adding them changed no other row."""

from __future__ import annotations

import random
from collections.abc import Sequence

from warnengine.model import Household, Person, Role
from warnengine.model.org import Org, OrgKind

_OTHERS = (OrgKind.KINDERGARTEN, OrgKind.ENTERPRISE, OrgKind.CONSTRUCTION_SITE, OrgKind.SCENIC_SPOT)
_SUFFIX = {
    OrgKind.SCHOOL: "小学",
    OrgKind.KINDERGARTEN: "幼儿园",
    OrgKind.ENTERPRISE: "工贸有限公司",
    OrgKind.CONSTRUCTION_SITE: "安置房建设工地",
    OrgKind.SCENIC_SPOT: "景区",
}
_HEADCOUNT = {
    OrgKind.SCHOOL: (200, 900),
    OrgKind.KINDERGARTEN: (40, 200),
    OrgKind.ENTERPRISE: (50, 500),
    OrgKind.CONSTRUCTION_SITE: (30, 200),
    OrgKind.SCENIC_SPOT: (100, 2000),
}


def generate_orgs(
    rng: random.Random,
    townships: Sequence[tuple[str, list[tuple[str, str]]]],
    households: Sequence[Household],
    people: Sequence[Person],
    per_township: int,
) -> list[Org]:
    """`townships`: (code, its villages as (code, name), the seat first)."""
    if per_township <= 0:
        return []
    homes: dict[str, list[Household]] = {}
    for h in households:
        homes.setdefault(h.cell_code[:12], []).append(h)
    adults: dict[str, list[str]] = {}
    for p in people:
        if p.role is Role.RESIDENT and p.phone:
            adults.setdefault(p.cell_code[:12], []).append(p.person_id)
    orgs: list[Org] = []
    for _, villages in townships:
        usable = [(code, name) for code, name in villages if homes.get(code) and adults.get(code)]
        for k in range(min(per_township, len(usable))):
            kind = OrgKind.SCHOOL if k == 0 else rng.choice(_OTHERS)
            code, name = usable[0] if k == 0 else rng.choice(usable)
            at = rng.choice(homes[code])
            heads = rng.sample(adults[code], min(len(adults[code]), rng.randint(1, 2)))
            orgs.append(
                Org(
                    org_id=f"org{len(orgs) + 1:05d}",
                    cell_code=at.cell_code,
                    kind=kind,
                    name=f"{name}{_SUFFIX[kind]}",
                    lon=at.lon,
                    lat=at.lat,
                    headcount=rng.randint(*_HEADCOUNT[kind]),
                    responsible=tuple(heads),
                )
            )
    return orgs
