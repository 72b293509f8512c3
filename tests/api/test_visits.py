"""Visit tasks through the API: list a warning's tasks, report households; bad reports change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.api.conftest import Api
from tests.plan.conftest import directory_of
from warnengine.directory import County
from warnengine.escalate.ladder import escalate
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.policy import load_policy
from warnengine.plan.stage import plan_deliveries

POLICY = load_policy(Path(__file__).resolve().parents[2] / "config" / "policy.yaml")


async def visits_due(api: Api, county: County, after_s: float = 20 * 60) -> str:
    """A red flood warning over one village, 20 minutes on with nobody answering: the ladder made visit
    tasks (`after_s` earlier: only what its first sweeps do)."""
    store = api.store
    village = next(c.code for c in county.cells if c.level.value == "village")
    now = datetime.fromtimestamp(store.clock.now(), UTC)
    w = HazardWarning(
        warning_id="w-0123456789abcdef",
        version=1,
        sender="s",
        identifier="i",
        sent=now,
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        expires=now + timedelta(hours=6),
        areas=[Area(codes=[village])],
    )
    await store.save_warning(w)
    directory = directory_of(county)
    await plan_deliveries(w, directory, POLICY, store, 3600)
    store.clock.advance(after_s)  # type: ignore[attr-defined]

    async def emit(*_: object) -> None:
        return None

    await escalate(store, directory, POLICY, emit)
    return w.warning_id


async def test_visitor_reports_households(api: Api, small_county: County) -> None:
    warning_id = await visits_due(api, small_county)
    status, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    assert status == 200 and out["tasks"]
    task = out["tasks"][0]
    first = task["households"][0]
    # Nobody answered their 叫应 (nothing was even sent): every group leader and grid member is passed over
    # and the village grid head is named.
    assert first["outcome"] is None and task["level"] == 1 and task["assignee"]
    path = f"/api/v1/visits/{task['task_id']}/households/{first['household_id']}"
    status, done = await api.call("POST", path, "grid", json={"outcome": "nobody_home", "note": "全家外出"})
    assert status == 200 and done["outcome"] == "nobody_home"
    status, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    [again] = [t for t in out["tasks"] if t["task_id"] == task["task_id"]]
    assert again["state"] == "accepted" and again["households"][0]["outcome"] == "nobody_home"
    status, report = await api.call("GET", f"/api/v1/warnings/{warning_id}/report", "grid")
    [row] = [u for u in report["unreached"] if u["household_id"] == first["household_id"]]
    assert row["reason"] == "visit: nobody_home (全家外出)"


async def test_bad_visit_reports_are_refused(api: Api, small_county: County) -> None:
    warning_id = await visits_due(api, small_county)
    _, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    task = out["tasks"][0]
    other = "h9999999"  # not on the task
    status, err = await api.call(
        "POST", f"/api/v1/visits/{task['task_id']}/households/{other}", "grid", json={"outcome": "reached"}
    )
    assert status == 404 and err["error"]["code"] == "not_found"
    hid = task["households"][0]["household_id"]
    status, err = await api.call(
        "POST", f"/api/v1/visits/{task['task_id']}/households/{hid}", "grid", json={"outcome": "teleported"}
    )
    assert status == 400 and err["error"]["field"] == "outcome"
    status, _ = await api.call(
        "POST", f"/api/v1/visits/{task['task_id']}/households/{hid}", json={"outcome": "reached"}
    )
    assert status == 401


async def test_visitor_names_persons_or_counts_heads(api: Api, small_county: County) -> None:
    """到人: the list names each household's residents; a report names who was seen or gives a headcount;
    a household with residents unaccounted for stays open; the live status counts persons."""
    warning_id = await visits_due(api, small_county)
    _, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    homes = [(t["task_id"], h) for t in out["tasks"] for h in t["households"]]
    task_id, home = next((t, h) for t, h in homes if h["members"] >= 2 and len(h["people"]) == h["members"])
    assert home["accounted"] == 0 and not any(p["accounted"] for p in home["people"])
    first = home["people"][0]["person_id"]
    path = f"/api/v1/visits/{task_id}/households/{home['household_id']}"
    # One of them named (twice: counted once): recorded as partly home, open for the rest.
    status, done = await api.call(
        "POST", path, "grid", json={"outcome": "reached", "persons": [first, first]}
    )
    assert status == 200 and (done["outcome"], done["persons_accounted"]) == ("nobody_home", 1)
    _, live = await api.call("GET", f"/api/v1/warnings/{warning_id}/status", "grid")
    assert live["persons_accounted"] == 1 and live["persons"] == sum(h["members"] for _, h in homes)
    assert live["persons_unaccounted"]["nobody_home"] == home["members"] - 1
    # Another door: a headcount of all of them closes it.
    task2, other = next((t, h) for t, h in homes if h["household_id"] != home["household_id"])
    status, done = await api.call(
        "POST",
        f"/api/v1/visits/{task2}/households/{other['household_id']}",
        "grid",
        json={"outcome": "reached", "headcount": other["members"]},
    )
    assert status == 200 and (done["outcome"], done["persons_accounted"]) == ("reached", other["members"])
    _, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    [again] = [h for t in out["tasks"] for h in t["households"] if h["household_id"] == home["household_id"]]
    assert again["accounted"] == 1 and again["people"][0]["accounted"] is True


async def test_bad_persons_and_headcounts_are_refused(api: Api, small_county: County) -> None:
    warning_id = await visits_due(api, small_county)
    _, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    task = out["tasks"][0]
    home = task["households"][0]
    path = f"/api/v1/visits/{task['task_id']}/households/{home['household_id']}"
    stranger = next(p.person_id for p in small_county.people if p.household_id != home["household_id"])
    for body, field, code in (
        ({"outcome": "reached", "persons": [stranger]}, "persons", "unknown_person"),
        ({"outcome": "reached", "persons": ["nobody-at-all"]}, "persons", "unknown_person"),
        ({"outcome": "reached", "headcount": home["members"] + 1}, "headcount", "headcount_too_large"),
        ({"outcome": "reached", "headcount": -1}, "headcount", "invalid_field"),
    ):
        status, err = await api.call("POST", path, "grid", json=body)
        assert status == 400 and (err["error"]["field"], err["error"]["code"]) == (field, code), body
    # Nothing was recorded or counted.
    _, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    [same] = [h for t in out["tasks"] for h in t["households"] if h["household_id"] == home["household_id"]]
    assert same["outcome"] is None and same["accounted"] == 0
    _, live = await api.call("GET", f"/api/v1/warnings/{warning_id}/status", "grid")
    assert live["persons_accounted"] == 0
