"""A small county with organisations (issue 17), shared by the org tests: in the first village a school in
its first group whose principal is also a resident there (p000137), a construction site on the village
cell with nobody responsible on record; an enterprise in another village."""

from __future__ import annotations

import dataclasses

from warnengine.directory import County
from warnengine.model.org import Org, OrgKind

SCHOOL, SITE, FACTORY = "O-school", "O-site", "O-factory"


def with_orgs(county: County) -> County:
    villages = [c.code for c in county.cells if c.level.value == "village"]
    first, other = villages[0], villages[1]
    principal = next(
        p for p in county.people if p.cell_code.startswith(first) and p.role.value == "resident" and p.phone
    )
    home = next(h for h in county.households if h.household_id == principal.household_id)
    far = next(h for h in county.households if h.cell_code.startswith(other))
    boss = next(p for p in county.people if p.cell_code.startswith(other) and p.phone)
    site_at = next(
        h for h in county.households if h.cell_code.startswith(first) and h.cell_code != home.cell_code
    )
    orgs = [
        Org(
            org_id=SCHOOL,
            cell_code=home.cell_code,
            kind=OrgKind.SCHOOL,
            name="解放路小学",
            lon=home.lon,
            lat=home.lat,
            headcount=830,
            responsible=(principal.person_id,),
        ),
        Org(
            org_id=SITE,
            cell_code=first,
            kind=OrgKind.CONSTRUCTION_SITE,
            name="滨河路工地",
            lon=site_at.lon,
            lat=site_at.lat,
            headcount=120,
        ),
        Org(
            org_id=FACTORY,
            cell_code=far.cell_code,
            kind=OrgKind.ENTERPRISE,
            name="县纺织厂",
            lon=far.lon,
            lat=far.lat,
            headcount=300,
            responsible=(boss.person_id,),
        ),
    ]
    return dataclasses.replace(county, orgs=orgs)


def principal_of(county: County) -> str:
    return next(o for o in county.orgs if o.org_id == SCHOOL).responsible[0]
