"""The closure report as a workbook over the API: a summary sheet, then one sheet per township listing its
households not reached (vulnerable first) with why; ids stay text; an unknown warning is 404."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.api.conftest import Api
from tests.escalate.test_ladder import POLICY, red
from tests.plan.conftest import directory_of
from warnengine.api.report import XLSX
from warnengine.directory import County
from warnengine.plan.stage import plan_deliveries

WID = "w-00000000000000ab"


async def test_the_closure_report_downloads_as_a_workbook(api: Api, small_county: County) -> None:
    village = next(c.code for c in small_county.cells if c.level.value == "village")
    w = red(village, api.store.clock).model_copy(update={"warning_id": WID})
    await api.store.save_warning(w)
    assert await plan_deliveries(w, directory_of(small_county), POLICY, api.store, 3600) == [village]
    _, report = await api.call("GET", f"/api/v1/warnings/{WID}/report", "grid")
    async with api.client.get(f"/api/v1/warnings/{WID}/report.xlsx", headers=api.auth("grid")) as r:
        assert r.status == 200 and r.content_type == XLSX
        assert f"closure-{WID}.xlsx" in r.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(await r.read()), read_only=True)
    town = next(c for c in small_county.cells if c.code == _parent(small_county, village))
    assert wb.sheetnames == ["总览 summary", f"{town.name} {town.code}"]
    summary = [list(row) for row in wb["总览 summary"].iter_rows(values_only=True)]
    assert ["户数 households", report["households"]] == summary[4][:2]
    sheet = [list(row) for row in wb[f"{town.name} {town.code}"].iter_rows(values_only=True)]
    listed = [row[0] for row in sheet[2:]]
    assert listed == [u["household_id"] for u in report["unreached"]] and len(listed) == report["households"]
    assert all(isinstance(h, str) for h in listed) and all(row[1] == village for row in sheet[2:])
    vulnerable = [row[4] == "是" for row in sheet[2:]]
    assert vulnerable == sorted(vulnerable, reverse=True)  # vulnerable first
    status, _ = await api.call("GET", "/api/v1/warnings/w-00000000000000ff/report.xlsx", "grid")
    assert status == 404


def _parent(county: County, code: str) -> str:
    return next(c.parent for c in county.cells if c.code == code) or ""
