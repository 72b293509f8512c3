"""The approver's list says what is being approved: area by name, time, hazard in Chinese, drill or real,
and the reach the plan would have — two warnings with the same headline are told apart."""

from __future__ import annotations

import re
from typing import Any

from tests.api.conftest import Api
from warnengine.directory import County

TOWNSHIP = "410526100000"  # the small county's first township (seed 7)


async def test_the_list_says_what_is_approved(api_both: Api, small_county: County) -> None:
    api = api_both
    village = min((c for c in small_county.cells if c.parent == TOWNSHIP), key=lambda c: c.code)
    township = next(c for c in small_county.cells if c.code == TOWNSHIP)

    def draft(codes: list[str], drill: bool) -> dict[str, Any]:
        return {
            "hazard": "flood",
            "severity": "red",
            "event": "山洪",
            "headline": "山洪红色预警",
            "drill": drill,
            "areas": [{"codes": codes}],
        }

    ids = {}
    for key, codes, drill in (("town", [TOWNSHIP], False), ("village", [village.code], True)):
        status, w = await api.call("POST", "/api/v1/warnings", "disp", json=draft(codes, drill))
        assert status == 201, w
        ids[key] = w["warning_id"]
    status, body = await api.call("GET", "/api/v1/warnings", "grid")
    assert status == 200
    rows = {w["warning_id"]: w["summary"] for w in body["warnings"]}
    town, one = rows[ids["town"]], rows[ids["village"]]
    assert (town["area"], one["area"]) == (township.name, village.name)
    assert (town["kind"], one["kind"]) == ("真实 REAL", "演练 DRILL")
    assert town["hazard_zh"] == "山洪 红色"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", town["created_local"])
    status, preview = await api.call("GET", f"/api/v1/warnings/{ids['town']}/preview", "grid")
    assert status == 200, preview
    assert (town["households"], town["people"]) == (preview["households"], preview["people"])
    assert 0 < one["households"] < town["households"]
