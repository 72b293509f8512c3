"""Organisations in live status and the closure report over the API (issue 17): targeted, reached,
unreached with why, and the headcount they hold; the workbook gains a 单位 orgs sheet."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import update

from tests.acks.test_people import rows
from tests.api.conftest import Api
from tests.escalate.test_ladder import POLICY, red
from tests.plan.org_county import SCHOOL, SITE, with_orgs
from warnengine.acks.people import apply_app_acks
from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.directory import County
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory
from warnengine.wire.records import AppAck

WID = "w-00000000000000cd"


async def planned_with_orgs(api: Api, small_county: County) -> County:
    """The county with its school and site imported, and a red warning (WID) planned over the school's
    village; the county."""
    county = with_orgs(small_county)
    await api.store.import_directory(
        county.cells, county.households, county.people, county.devices, orgs=county.orgs
    )
    village = next(o for o in county.orgs if o.org_id == SCHOOL).cell_code[:12]
    w = red(village, api.store.clock).model_copy(update={"warning_id": WID})
    await api.store.save_warning(w)
    assert await plan_deliveries(w, await Directory.load(api.store), POLICY, api.store, 3600) == [village]
    return county


async def test_status_and_report_count_orgs(api: Api, small_county: County) -> None:
    county = await planned_with_orgs(api, small_county)
    status, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    assert status == 200
    orgs = s["orgs"]
    assert {k: orgs[k] for k in ("targeted", "reached", "unreached", "headcount", "headcount_reached")} == {
        "targeted": 2,
        "reached": 0,
        "unreached": 2,
        "headcount": 950,
        "headcount_reached": 0,
    }
    why = {o["org_id"]: o["why"] for o in orgs["open"]}
    assert why == {
        SCHOOL: "负责人未回复 no reply from the responsible persons",
        SITE: "无负责人记录 no responsible person on record",
    }
    [link, *_] = await rows(api.store, ot.org_deliveries, warning_id=WID, org_id=SCHOOL)
    assert await apply_app_acks(
        [AppAck(delivery_id=link["delivery_id"], at=api.store.clock.now())], api.store
    )
    _, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    assert (s["orgs"]["reached"], s["orgs"]["headcount_reached"]) == (1, 830)
    assert [o["org_id"] for o in s["orgs"]["open"]] == [SITE]
    _, report = await api.call("GET", f"/api/v1/warnings/{WID}/report", "grid")
    assert report["orgs"]["reached"] == 1 and report["orgs"]["list"][0]["org_id"] == SITE
    async with api.client.get(f"/api/v1/warnings/{WID}/report.xlsx", headers=api.auth("grid")) as r:
        assert r.status == 200
        wb = load_workbook(io.BytesIO(await r.read()), read_only=True)
    assert wb.sheetnames[:2] == ["总览 summary", "单位 orgs"]
    sheet = [list(row) for row in wb["单位 orgs"].iter_rows(values_only=True)]
    assert [row[0] for row in sheet[2:]] == [SITE, SCHOOL]
    # A warning over a village without orgs: zeros, nothing open, and no orgs sheet.
    quiet = sorted(c.code for c in county.cells if c.level.value == "village")[2]
    assert quiet[:12] not in {o.cell_code[:12] for o in county.orgs}
    other = red(quiet, api.store.clock).model_copy(update={"warning_id": WID[:-2] + "ef"})
    await api.store.save_warning(other)
    assert await plan_deliveries(other, await Directory.load(api.store), POLICY, api.store, 3600)
    _, s = await api.call("GET", f"/api/v1/warnings/{other.warning_id}/status", "grid")
    assert s["orgs"] == {
        "targeted": 0,
        "reached": 0,
        "unreached": 0,
        "unreachable": 0,
        "open_count": 0,
        "headcount": 0,
        "headcount_reached": 0,
        "open": [],
    }
    async with api.client.get(
        f"/api/v1/warnings/{other.warning_id}/report.xlsx", headers=api.auth("grid")
    ) as r:
        assert "单位 orgs" not in load_workbook(io.BytesIO(await r.read()), read_only=True).sheetnames


async def test_an_open_org_keeps_the_warning_open(api: Api, small_county: County) -> None:
    """Every household reached: the warning is still not done, nor its closure closed, while the school
    is neither reached nor named unreachable; the site (nobody responsible on record) is named at once."""
    await planned_with_orgs(api, small_county)
    async with api.store.engine.begin() as conn:  # every household reached (by acks, say)
        await conn.execute(
            update(t.warning_households)
            .where(t.warning_households.c.warning_id == WID)
            .values(state="reached")
        )
    _, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    assert s["households_open"] == 0 and s["orgs"]["open_count"] == 1 and s["orgs"]["unreachable"] == 1
    assert not s["done"]
    why = {o["org_id"]: o["why"] for o in s["orgs"]["open"]}
    assert why[SITE] == "无负责人记录 no responsible person on record"
    _, report = await api.call("GET", f"/api/v1/warnings/{WID}/report", "grid")
    assert report["open"] == 0 and report["orgs"]["open"] == 1 and report["closed"] is False
    [link, *_] = await rows(api.store, ot.org_deliveries, warning_id=WID, org_id=SCHOOL)
    assert await apply_app_acks(
        [AppAck(delivery_id=link["delivery_id"], at=api.store.clock.now())], api.store
    )
    _, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    assert s["orgs"]["open_count"] == 0 and s["done"]
    _, report = await api.call("GET", f"/api/v1/warnings/{WID}/report", "grid")
    assert report["closed"] is True and report["orgs"]["unreachable"] == 1


async def test_a_visitor_confirms_an_org(api: Api, small_county: County) -> None:
    """The ladder's visitor confirms the school in person and names the site unreachable with why: both
    closed, the warning done once its households are; bad or repeated words change nothing."""
    await planned_with_orgs(api, small_county)
    async with api.store.engine.begin() as conn:
        await conn.execute(
            update(t.warning_households)
            .where(t.warning_households.c.warning_id == WID)
            .values(state="reached")
        )
    url = f"/api/v1/warnings/{WID}/orgs"
    status, out = await api.call(
        "POST", f"{url}/{SCHOOL}/visit", "grid", json={"outcome": "reached", "note": "已当面告知"}
    )
    assert status == 200 and out["recorded"] is True
    status, out = await api.call(
        "POST", f"{url}/{SCHOOL}/visit", "grid", json={"outcome": "unreachable", "note": "x"}
    )
    assert status == 200 and out["recorded"] is False  # reached stands
    status, err = await api.call("POST", f"{url}/{SITE}/visit", "grid", json={"outcome": "unreachable"})
    assert status == 400 and err["error"]["field"] == "note"
    status, _ = await api.call("POST", f"{url}/O-nosuch/visit", "grid", json={"outcome": "reached"})
    assert status == 404
    status, err = await api.call("POST", f"{url}/{SITE}/visit", "grid", json={"outcome": "gone"})
    assert status == 400
    status, out = await api.call(
        "POST", f"{url}/{SITE}/visit", "grid", json={"outcome": "unreachable", "note": "停工"}
    )
    assert status == 200 and out["recorded"] is True
    _, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    assert (s["orgs"]["reached"], s["orgs"]["unreachable"], s["orgs"]["open_count"]) == (1, 1, 0) and s[
        "done"
    ]
    assert {o["org_id"]: o["why"] for o in s["orgs"]["open"]} == {SITE: "入户核实：停工 / visited: 停工"}
    orgs = {r["org_id"]: r for r in await rows(api.store, ot.warning_orgs, warning_id=WID)}
    assert (orgs[SCHOOL]["reached_by"], orgs[SCHOOL]["note"]) == ("visit", "已当面告知")
