"""Planning organisations (issue 17): the orgs a warning's areas cover — by a code naming their cell or a
cell above it, by their location inside a polygon — get a warning_orgs row and their responsible persons
an org delivery (their own message, tied to the org) besides whatever they get as residents; a drill
plans only orgs whose responsible persons opted in; planning twice changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.plan.org_county import FACTORY, SCHOOL, SITE, principal_of, with_orgs
from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import Area, Channel, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.orgs import org_key
from warnengine.plan.plan import person_delivery_id
from warnengine.plan.policy import DisseminationPolicy, Residents, Rule
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory

POLICY = DisseminationPolicy(
    rules=(
        Rule(
            name="t",
            hazards=("any",),
            severities=(Severity.RED,),
            residents=Residents.ALL,
            channels=(Channel.SMS, Channel.WECHAT),
        ),
    )
)


def warning(wid: str, area: Area, status: Status = Status.ACTUAL) -> HazardWarning:
    return HazardWarning(
        warning_id=wid,
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=status,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        headline="山洪红色预警",
        areas=[area],
    )


async def select_all(store: Store, table: Any, warning_id: str) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        res = await conn.execute(select(table).where(table.c.warning_id == warning_id))
        return [dict(r._mapping) for r in res]


async def loaded(store: Store, county: County) -> Directory:
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points, orgs=county.orgs
    )
    return await Directory.load(store)


async def test_orgs_of_a_village_code_planned(store: Store, small_county: County) -> None:
    county = with_orgs(small_county)
    directory = await loaded(store, county)
    school = next(o for o in county.orgs if o.org_id == SCHOOL)
    village = school.cell_code[:12]
    w = warning("w-orgs", Area(codes=[village]))
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, POLICY, store, 3600) == [village]
    orgs = {r["org_id"]: r for r in await select_all(store, ot.warning_orgs, w.warning_id)}
    assert sorted(orgs) == [SCHOOL, SITE]  # the factory is in another village
    assert orgs[SCHOOL]["state"] == "targeted" and orgs[SCHOOL]["headcount"] == 830
    principal = principal_of(county)
    mine = [d for d in await select_all(store, t.deliveries, w.warning_id) if d["person_id"] == principal]
    own = [d for d in mine if d["household_id"] is not None]  # as a resident of their household
    for_school = [d for d in mine if d["household_id"] is None]
    assert own and for_school
    assert {d["delivery_id"] for d in for_school} == {
        person_delivery_id(w.warning_id, 1, org_key(principal, SCHOOL), d["channel"], 0) for d in for_school
    }
    assert all(d["text"].startswith("【解放路小学】学校负责人：山洪红色预警") for d in for_school)
    assert all("830人" in d["text"] and "收到" in d["text"] for d in for_school)
    links = await select_all(store, ot.org_deliveries, w.warning_id)
    assert {(x["delivery_id"], x["org_id"]) for x in links} == {
        (d["delivery_id"], SCHOOL) for d in for_school
    }
    # Planned again (a redelivered warning): nothing new.
    before = len(await select_all(store, t.deliveries, w.warning_id))
    await plan_deliveries(w, directory, POLICY, store, 3600)
    assert len(await select_all(store, t.deliveries, w.warning_id)) == before
    assert len(await select_all(store, ot.warning_orgs, w.warning_id)) == 2


async def test_orgs_by_polygon_and_group_code(store: Store, small_county: County) -> None:
    county = with_orgs(small_county)
    directory = await loaded(store, county)
    school = next(o for o in county.orgs if o.org_id == SCHOOL)
    d = 0.0005
    ring = [
        (school.lon - d, school.lat - d),
        (school.lon + d, school.lat - d),
        (school.lon + d, school.lat + d),
        (school.lon - d, school.lat + d),
        (school.lon - d, school.lat - d),
    ]
    w = warning("w-poly", Area(polygons=[ring]))
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, POLICY, store, 3600)
    assert [r["org_id"] for r in await select_all(store, ot.warning_orgs, w.warning_id)] == [SCHOOL]
    # A group code: the orgs of that group only (the site is on the village cell).
    g = warning("w-group", Area(codes=[school.cell_code]))
    await store.save_warning(g)
    assert await plan_deliveries(g, directory, POLICY, store, 3600)
    assert [r["org_id"] for r in await select_all(store, ot.warning_orgs, g.warning_id)] == [SCHOOL]
    # The factory's township, by its code.
    factory = next(o for o in county.orgs if o.org_id == FACTORY)
    township = next(c.parent for c in county.cells if c.code == factory.cell_code[:12])
    assert township is not None
    tw = warning("w-town", Area(codes=[township]))
    await store.save_warning(tw)
    assert await plan_deliveries(tw, directory, POLICY, store, 3600)
    assert FACTORY in {r["org_id"] for r in await select_all(store, ot.warning_orgs, tw.warning_id)}


async def test_drill_plans_orgs_that_take_part(store: Store, small_county: County) -> None:
    county = with_orgs(small_county)
    principal = principal_of(county)
    # Only the principal takes part in drills.
    people = [p.model_copy(update={"drill_opt_in": p.person_id == principal}) for p in county.people]
    county = dataclasses.replace(county, people=people)
    directory = await loaded(store, county)
    school = next(o for o in county.orgs if o.org_id == SCHOOL)
    w = warning("w-drill", Area(codes=[school.cell_code[:12]]), Status.EXERCISE)
    await store.save_warning(w)
    await plan_deliveries(w, directory, POLICY, store, 3600)
    # The site has nobody to take part: a drill's closure counts only orgs that do.
    assert {r["org_id"] for r in await select_all(store, ot.warning_orgs, w.warning_id)} == {SCHOOL}
    texts = [d["text"] for d in await select_all(store, t.deliveries, w.warning_id) if d["text"]]
    assert texts and all(x.startswith("【演练】【解放路小学】") for x in texts)
