"""Evacuation (转移, issue 17) through the API: outcomes per threatened household (409 when recorded twice,
never counted twice), shelter check-ins (409 for the same person again), live counts with over capacity
flagged, and bad input naming the field."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_visits import visits_due
from tests.escalate.test_evacuation import with_point_and_shelters
from warnengine.directory import County


async def evacuating(api: Api, small_county: County) -> tuple[str, list[str]]:
    """A red flood over the village of a monitoring point and two shelters, a minute on: ordered out."""
    county, threatened = with_point_and_shelters(small_county)
    await api.store.import_directory([], [], [], [], points=county.points, shelters=county.shelters)
    return await visits_due(api, county, after_s=60), threatened


async def test_outcomes_checkins_and_counts(api: Api, small_county: County) -> None:
    wid, (gone, stays, helpme, away) = await evacuating(api, small_county)
    base = f"/api/v1/warnings/{wid}/evacuation"
    status, live = await api.call("GET", base, "disp")
    assert status == 200 and live["threatened_households"] == 4 and live["unrecorded"] == 4
    for home, doc in (
        (gone, {"outcome": "evacuated", "destination": "relatives"}),
        (stays, {"outcome": "refused", "note": "不肯走"}),
        (helpme, {"outcome": "needs_help", "note": "轮椅"}),
        (away, {"outcome": "away"}),
    ):
        status, out = await api.call("POST", f"{base}/households/{home}", "grid", json=doc)
        assert status == 200, out
    status, err = await api.call("POST", f"{base}/households/{stays}", "grid", json={"outcome": "refused"})
    assert status == 409 and err["error"]["code"] == "already_recorded"
    status, err = await api.call("POST", f"{base}/households/nosuch", "grid", json={"outcome": "away"})
    assert status == 404
    doc = {"outcome": "away", "destination": "shelter"}
    status, err = await api.call("POST", f"{base}/households/{away}", "grid", json=doc)
    assert status == 400 and "destination" in err["error"]["message"]
    _, inbox = await api.call("GET", f"/api/v1/field-reports?warning_id={wid}", "disp")
    assert {(r["household_id"], r["kind"]) for r in inbox["reports"]} == {
        (stays, "refused"),
        (helpme, "needs_help"),
    }
    # Check-ins by the duty room at the near shelter (room for 5): a person once, a headcount once.
    person = next(p.person_id for p in small_county.people if p.household_id == gone)
    path = "/api/v1/shelters/S-near/checkins"
    status, first = await api.call("POST", path, "disp", json={"warning_id": wid, "person_id": person})
    assert status == 201 and first["checked_in"] == 1 and not first["over_capacity"]
    status, err = await api.call("POST", path, "disp", json={"warning_id": wid, "person_id": person})
    assert status == 409 and err["error"]["code"] == "already_checked_in"
    doc2 = {"warning_id": wid, "household_id": helpme, "persons": 5}
    status, full = await api.call("POST", path, "disp", json=doc2)
    assert status == 201 and full["checked_in"] == 6 and full["over_capacity"]
    status, err = await api.call("POST", "/api/v1/shelters/S-far/checkins", "disp", json=doc2)
    assert status == 409  # the same household's headcount at another shelter: not counted twice
    for bad, field in (
        ({"warning_id": wid, "person_id": "p-nobody"}, "person_id"),
        ({"warning_id": wid, "household_id": "nosuch"}, "household_id"),
        ({"warning_id": "w-unknown", "person_id": person}, "warning_id"),
    ):
        status, err = await api.call("POST", "/api/v1/shelters/S-far/checkins", "disp", json=bad)
        assert status == 422 and err["error"]["field"] == field, (bad, err)
    status, _ = await api.call(
        "POST", "/api/v1/shelters/S-nowhere/checkins", "disp", json={"warning_id": wid, "person_id": person}
    )
    assert status == 404
    status, live = await api.call("GET", base, "disp")
    assert (live["refused"], live["needs_help"], live["away"], live["unrecorded"]) == (1, 1, 1, 0)
    members = {h.household_id: h.members for h in small_county.households}
    assert live["to_relatives_persons"] == members[gone] and live["evacuated_persons"] == 0
    assert live["checked_in"] == 6 and live["villages"][0]["checked_in"] == 6
    near = next(s for s in live["shelters"] if s["shelter_id"] == "S-near")
    assert near["over_capacity"] and near["checked_in"] == 6 and near["capacity"] == 5
    actions = [e["action"] for e in await api.store.audit_entries(subject=f"{wid}/{stays}")]
    assert actions == ["evacuation.report"]
