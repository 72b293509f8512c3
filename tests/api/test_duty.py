"""The duty roster over the API: replace a cell's roster (dispatchers), read it and who is on duty now
(staff); bad rows → 400 listing each, nothing changed; audited."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_status import TOWNSHIP
from warnengine.directory import County
from warnengine.model import Role

# The ManualClock starts at 1_700_000_000: 2023-11-15 06:13 in Beijing.
DAY = [
    {"role": "dispatcher", "post": "A", "start": "2023-11-15 00:00", "end": "2023-11-15 08:00"},
    {"role": "dispatcher", "post": "A", "start": "2023-11-15 08:00", "end": "2023-11-16 00:00"},
    {"role": "grid_head", "post": "副职", "start": "2023-11-15 00:00", "end": "2023-11-16 00:00"},
]


def _people(county: County) -> list[str]:
    d = [p.person_id for p in county.people if p.cell_code == TOWNSHIP and p.role is Role.DISPATCHER]
    (h,) = [p.person_id for p in county.people if p.cell_code == TOWNSHIP and p.role is Role.GRID_HEAD]
    return [d[0], d[1], h]


async def test_replace_a_cells_roster_and_see_who_is_on_duty(api: Api, small_county: County) -> None:
    who = _people(small_county)
    shifts = [{**s, "person_id": p} for s, p in zip(DAY, who, strict=True)]
    path = f"/api/v1/duty/cells/{TOWNSHIP}"
    status, _ = await api.call("PUT", path, "grid", json={"shifts": shifts})
    assert status == 403  # grid staff read the roster, dispatchers change it
    status, out = await api.call("PUT", path, "disp", json={"shifts": shifts})
    assert status == 200, out
    assert [s["start"] for s in out["shifts"]][:2] == ["2023-11-15T00:00+08:00", "2023-11-15T08:00+08:00"]
    status, now = await api.call("GET", "/api/v1/duty", "grid")
    assert status == 200 and now["at"] == "2023-11-15T06:13+08:00"
    assert [h["person_id"] for h in now["cells"][TOWNSHIP]["A"]] == [who[0]]
    assert now["cells"][TOWNSHIP]["deputy"][0]["person_id"] == who[2] and now["gaps"] == []
    status, later = await api.call("GET", "/api/v1/duty", "grid", params={"at": "2023-11-15T08:00+08:00"})
    assert [h["person_id"] for h in later["cells"][TOWNSHIP]["A"]] == [who[1]]
    status, night = await api.call("GET", "/api/v1/duty", "grid", params={"at": "2023-11-16 03:00"})
    assert night["gaps"] == [TOWNSHIP]
    status, audit = await api.call("GET", "/api/v1/audit", "admin", params={"subject": TOWNSHIP})
    assert status == 200 and any(e["action"] == "duty.replace" for e in audit["entries"])


async def test_a_bad_roster_lists_every_row_and_changes_nothing(api: Api, small_county: County) -> None:
    who = _people(small_county)
    path = f"/api/v1/duty/cells/{TOWNSHIP}"
    good = [{**DAY[0], "person_id": who[0]}]
    assert (await api.call("PUT", path, "disp", json={"shifts": good}))[0] == 200
    bad = [
        {**DAY[0], "person_id": "ghost"},
        {**DAY[1], "person_id": who[1], "start": "2023-11-15 07:00"},  # overlaps the first
        {**DAY[2], "person_id": who[2], "end": "2023-11-14 00:00"},  # ends before it starts
        {**DAY[2], "person_id": who[2], "post": "C"},
    ]
    status, err = await api.call("PUT", path, "disp", json={"shifts": bad})
    assert status == 400 and err["error"]["code"] == "roster_invalid"
    message = err["error"]["message"]
    for row, column in ((0, "person_id"), (1, "start"), (2, "end"), (3, "post")):
        assert f"shifts[{row}] {column}" in message
    status, roster = await api.call("GET", path, "grid")
    assert status == 200 and [s["person_id"] for s in roster["shifts"]] == [who[0]]
    assert (await api.call("GET", "/api/v1/duty/cells/999999999999", "grid"))[0] == 404
    status, err = await api.call("GET", "/api/v1/duty", "grid", params={"at": "soon"})
    assert status == 400 and err["error"]["field"] == "at"
