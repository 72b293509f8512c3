"""Who may do what in the field (issue 17): a shelter keeper's account checks people in at their own shelter
only (their account's directory person is the shelter's keeper), the duty room anywhere; field reports are
taken and closed by the duty room, not grid staff; grid staff post a point lead's report (`point_report`).
Bad input names the field."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_evacuation import evacuating
from warnengine.directory import County
from warnengine.model import Role


async def test_only_the_keeper_or_duty_checks_in(api: Api, small_county: County) -> None:
    wid, (gone, *_rest) = await evacuating(api, small_county)
    keeper = next(p.person_id for p in small_county.people if p.role is Role.GRID_MEMBER)
    other = next(p.person_id for p in small_county.people if p.role is Role.GROUP_LEADER)
    near = next(s for s in await api.store.shelters() if s.shelter_id == "S-near")
    await api.store.import_directory(
        [], [], [], [], shelters=[near.model_copy(update={"keeper_person_id": keeper})]
    )
    path, doc = "/api/v1/shelters/S-near/checkins", {"warning_id": wid, "household_id": gone, "persons": 2}
    status, err = await api.call("POST", path, "grid", json=doc)  # an account that is nobody
    assert status == 403 and err["error"]["code"] == "not_keeper" and err["error"]["field"] == "shelter_id"
    status, _ = await api.call("PUT", "/api/v1/users/grid/person", "grid", json={"person_id": keeper})
    assert status == 403  # only an admin says who an account is
    status, out = await api.call("PUT", "/api/v1/users/grid/person", "admin", json={"person_id": other})
    assert status == 200 and out == {"username": "grid", "person_id": other}
    status, err = await api.call("POST", path, "grid", json=doc)  # somebody, but not this shelter's keeper
    assert status == 403 and err["error"]["code"] == "not_keeper"
    await api.call("PUT", "/api/v1/users/grid/person", "admin", json={"person_id": keeper})
    status, out = await api.call("POST", path, "grid", json=doc)
    assert status == 201 and out["checked_in"] == 2
    status, err = await api.call("POST", "/api/v1/shelters/S-far/checkins", "grid", json=doc)
    assert status == 403  # the keeper of S-near is nobody at S-far
    # A person of a household checked in by headcount is not counted again.
    person = next(p.person_id for p in small_county.people if p.household_id == gone)
    status, err = await api.call("POST", path, "disp", json={"warning_id": wid, "person_id": person})
    assert status == 409 and err["error"]["code"] == "already_checked_in"
    for bad, code, field in (
        ({"person_id": "p-nobody"}, 422, "person_id"),
        ({"person_id": "bad/id"}, 400, "person_id"),
    ):
        status, err = await api.call("PUT", "/api/v1/users/grid/person", "admin", json=bad)
        assert status == code and field in str(err["error"]), err
    status, _ = await api.call("PUT", "/api/v1/users/nobody/person", "admin", json={"person_id": keeper})
    assert status == 404
    status, out = await api.call("PUT", "/api/v1/users/grid/person", "admin", json={"person_id": None})
    assert status == 200 and out["person_id"] is None
    assert await api.store.account_person("grid") is None
    actions = [e["action"] for e in await api.store.audit_entries(subject="grid")]
    assert actions.count("user.person") == 3


async def test_reports_taken_by_duty_only_point_report(api: Api) -> None:
    doc = {"kind": "point_report", "text": "点位无异常，3户已通知"}
    status, out = await api.call("POST", "/api/v1/field-reports", "grid", json=doc)
    assert status == 201 and out["kind"] == "point_report"
    rid = out["report_id"]
    status, err = await api.call("POST", f"/api/v1/field-reports/{rid}/take", "grid")
    assert status == 403 and err["error"]["code"] == "forbidden"
    status, _ = await api.call("POST", f"/api/v1/field-reports/{rid}/take", "appr")
    assert status == 200
    close = {"outcome": "handled", "note": "已核实"}
    status, _ = await api.call("POST", f"/api/v1/field-reports/{rid}/close", "grid", json=close)
    assert status == 403
    status, done = await api.call("POST", f"/api/v1/field-reports/{rid}/close", "appr", json=close)
    assert status == 200 and done["state"] == "handled"
