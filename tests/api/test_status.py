"""Reach preview, live status per village (snapshot and Server-Sent Events), directory and devices."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import insert

from tests.api.conftest import Api
from tests.api.test_warnings import create
from warnengine.db import tables as t
from warnengine.directory import County

TOWNSHIP = "410526100000"  # the small county's first township (seed 7)


async def test_preview_counts_the_directory_under_the_area(api_both: Api, small_county: County) -> None:
    api = api_both
    villages = {c.code for c in small_county.cells if c.parent == TOWNSHIP}
    devices = [d for d in small_county.devices if d.cell_code in villages]
    area = {"areas": [{"codes": [TOWNSHIP]}], "hazard": "flood", "severity": "red"}
    status, p = await api.call("POST", "/api/v1/preview", "grid", json=area)
    assert status == 200, p
    assert (p["townships"], p["villages"], p["devices"]) == (1, len(villages), len(devices))
    assert p["households"] == sum(1 for h in small_county.households if h.cell_code[:12] in villages)
    assert p["by_channel"]["loudspeaker"] == len(devices) and p["flagged"] is False
    assert (p["unreachable"], p["unreachable_count"]) == ([], 0)  # every responsible person has a phone
    w = await create(api, severity="red", headline="h", areas=[{"codes": [TOWNSHIP]}])
    status, again = await api.call("GET", f"/api/v1/warnings/{w['warning_id']}/preview", "disp")
    assert (status, again["villages"], again["devices"]) == (200, p["villages"], p["devices"])
    far = {"areas": [{"polygons": [[[0.0, 0.0], [0.1, 0.0], [0.1, 0.1]]]}]}
    status, none = await api.call("POST", "/api/v1/preview", "grid", json=far)
    assert (status, none["villages"], none["flagged"]) == (200, 0, True)


async def test_status_per_village_and_the_live_stream(api: Api, small_county: County) -> None:
    w = await create(api, severity="red", headline="h", areas=[{"codes": [TOWNSHIP]}])
    wid = w["warning_id"]
    status, s = await api.call("GET", f"/api/v1/warnings/{wid}/status", "grid")
    assert (status, s["state"], s["villages_total"], s["percent"]) == (200, "draft", 0, 0.0)
    v1, v2 = sorted(c.code for c in small_county.cells if c.parent == TOWNSHIP)[:2]
    # What the pipeline writes when it resolves and dispatches: two villages, three terminals.
    async with api.store.engine.begin() as conn:
        await conn.execute(
            insert(t.warning_villages),
            [
                {"warning_id": wid, "version": 1, "village_code": v, "state": "dispatched", "updated_at": 0.0}
                for v in (v1, v2)
            ],
        )
        await conn.execute(
            insert(t.deliveries),
            [
                {
                    "delivery_id": f"d{i}",
                    "warning_id": wid,
                    "version": 1,
                    "village_code": v,
                    "channel": "loudspeaker",
                    "recipient": f"dev{i}",
                    "state": st,
                    "attempts": 1,
                    "created_at": 0.0,
                    "expires_at": 9e9,
                }
                for i, (v, st) in enumerate([(v1, "played"), (v2, "played"), (v2, "sent")])
            ],
        )
    status, s = await api.call("GET", f"/api/v1/warnings/{wid}/status", "grid")
    assert (s["villages_total"], s["villages_reached"], s["percent"], s["unreached"]) == (2, 1, 50.0, [v2])
    by_code = {v["code"]: v for v in s["villages"]}
    assert (by_code[v2]["percent"], by_code[v2]["township"]) == (50.0, TOWNSHIP)
    assert (s["terminals"], s["terminals_played"], s["messages"], s["households"]) == (3, 2, 0, 0)
    assert by_code[v1]["name"] == next(c.name for c in small_county.cells if c.code == v1)

    async with api.client.get(f"/api/v1/warnings/{wid}/events", headers=api.auth("grid")) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"

        async def next_status() -> dict[str, object]:
            while True:
                line = (await r.content.readline()).decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])  # type: ignore[no-any-return]

        first = await asyncio.wait_for(next_status(), 5)
        assert first["percent"] == 50.0
        async with api.store.engine.begin() as conn:
            await conn.execute(
                t.deliveries.update().where(t.deliveries.c.delivery_id == "d2").values(state="played")
            )
        second = await asyncio.wait_for(next_status(), 5)  # pushed when it changes
        assert (second["percent"], second["unreached"]) == (100.0, [])
    status, body = await api.call("GET", "/api/v1/warnings/w-00000000000000ff/events", "grid")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_directory_and_devices(api: Api, small_county: County) -> None:
    status, g = await api.call("GET", "/api/v1/directory/grid", "grid")
    villages = [c for c in small_county.cells if c.level == "village"]
    assert status == 200 and g["type"] == "FeatureCollection"
    assert sum(f["properties"]["level"] == "village" for f in g["features"]) == len(villages)
    status, cell = await api.call("GET", f"/api/v1/directory/cells/{TOWNSHIP}", "grid")
    assert status == 200 and cell["devices"] == sum(
        d.cell_code[:9] == TOWNSHIP[:9] for d in small_county.devices
    )
    assert {c["code"] for c in cell["children"]} == {c.code for c in villages if c.parent == TOWNSHIP}
    status, cells = await api.call("GET", "/api/v1/directory/cells?level=township", "grid")
    assert len(cells["cells"]) == sum(c.level == "township" for c in small_county.cells)
    status, devs = await api.call("GET", f"/api/v1/devices?village={villages[0].code}", "grid")
    assert {d["device_id"] for d in devs["devices"]} == {
        d.device_id for d in small_county.devices if d.cell_code == villages[0].code
    }
    status, h = await api.call("GET", "/api/v1/devices/health", "grid")
    assert h == {"online": 0, "offline": 0, "unknown": len(small_county.devices)}
    d0 = small_county.devices[0].device_id
    one = (await api.call("GET", f"/api/v1/devices/{d0}", "grid"))[1]
    assert (one["device_id"], one["sig_alg"]) == (d0, "ed25519")
    assert {d["sig_alg"] for d in devs["devices"]} == {"ed25519"}
    assert (await api.call("GET", "/api/v1/devices/nope", "grid"))[0] == 404


async def test_status_by_household_names_the_open_ones(api_both: Api, small_county: County) -> None:
    """The headline and the map count households reached, not loudspeakers; the open ones are named
    with why, vulnerable first; the warning is not done while one is open."""
    api = api_both
    w = await create(api, severity="red", headline="h", areas=[{"codes": [TOWNSHIP]}])
    wid = w["warning_id"]
    v1 = sorted(c.code for c in small_county.cells if c.parent == TOWNSHIP)[0]
    homes: list[tuple[str, str, bool, str | None]] = [
        ("h1", "reached", False, None),
        ("h2", "delivered", False, None),
    ]
    homes.append(("h3", "sent", True, None))
    homes.append(("h4", "unreachable", False, "无电话 no phone"))
    async with api.store.engine.begin() as conn:
        await conn.execute(
            insert(t.warning_villages),
            [{"warning_id": wid, "version": 1, "village_code": v1, "state": "dispatched", "updated_at": 0.0}],
        )
        await conn.execute(
            insert(t.deliveries),
            [
                {
                    "delivery_id": "d0",
                    "warning_id": wid,
                    "version": 1,
                    "village_code": v1,
                    "channel": "loudspeaker",
                    "recipient": "dev0",
                    "state": "played",
                    "attempts": 1,
                    "created_at": 0.0,
                    "expires_at": 9e9,
                }
            ],
        )
        await conn.execute(
            insert(t.warning_households),
            [
                {
                    "warning_id": wid,
                    "household_id": h,
                    "version": 1,
                    "village_code": v1,
                    "cell_code": v1,
                    "vulnerable": vul,
                    "state": st,
                    "reason": why,
                    "targeted_at": 0.0,
                    "updated_at": 0.0,
                }
                for h, st, vul, why in homes
            ],
        )
        await conn.execute(
            insert(t.visit_tasks),
            [
                {
                    "task_id": "vt1",
                    "warning_id": wid,
                    "version": 1,
                    "village_code": v1,
                    "group_code": v1,
                    "assignee": "p-leader",
                    "level": 0,
                    "state": "open",
                    "created_at": 0.0,
                    "assigned_at": 0.0,
                }
            ],
        )
        await conn.execute(
            insert(t.visit_households), [{"task_id": "vt1", "household_id": "h2", "vulnerable": False}]
        )
    status, s = await api.call("GET", f"/api/v1/warnings/{wid}/status", "grid")
    assert status == 200
    # The loudspeaker played (到村 100 %), but only one household in four is reached; h4 is named unreachable
    # (closed, not reached), so two are still open.
    assert (s["terminals_percent"], s["percent"], s["households_open"], s["done"]) == (100.0, 25.0, 2, False)
    assert s["households_unreachable"] == 1 and s["villages"][0]["closed"] is False
    (village,) = s["villages"]
    assert (village["percent"], village["terminals_percent"], s["unreached"]) == (25.0, 100.0, [v1])
    rows = [(h["household_id"], h["vulnerable"], h["why"]) for h in s["open_households"]]
    assert rows == [
        ("h3", True, "未送达 no message delivered"),
        ("h2", False, "入户中 visit open: p-leader"),
        ("h4", False, "无法联系 unreachable: 无电话 no phone"),
    ]
    assert s["drill"] is False
