"""From the API's release to every loudspeaker of a township playing it, through the real pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.api.e2e import Live, live_stack
from warnengine.directory import County

TOWNSHIP = "410526100000"


async def call(http: aiohttp.ClientSession, live: Live, method: str, path: str, who: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {live.tokens[who]}"}
    async with http.request(method, live.api.url + path, headers=headers, **kw) as r:
        body = await r.json()
        assert r.status < 300, body
        return body


async def test_release_reaches_every_terminal_and_the_status_counts_households(
    tmp_path: Path, small_county_dir: Path, small_county: County, password_hash: str
) -> None:
    villages = {c.code for c in small_county.cells if c.parent == TOWNSHIP}
    expected = {d.device_id for d in small_county.devices if d.cell_code in villages}
    assert expected
    async with live_stack(tmp_path, small_county_dir, password_hash) as live, aiohttp.ClientSession() as http:
        w = await call(
            http,
            live,
            "POST",
            "/api/v1/warnings",
            "disp",
            json={
                "hazard": "flood",
                "severity": "red",
                "event": "山洪",
                "headline": "山洪红色预警",
                "instruction": "沿河群众立即转移",
                "areas": [{"codes": [TOWNSHIP]}],
            },
        )
        wid = w["warning_id"]
        w = await call(http, live, "POST", f"/api/v1/warnings/{wid}/submit", "disp", json={"revision": 1})
        w = await call(http, live, "POST", f"/api/v1/warnings/{wid}/approve", "appr", json={"revision": 1})
        w = await call(http, live, "POST", f"/api/v1/warnings/{wid}/release", "disp", json={"revision": 1})
        assert w["state"] == "released"

        h = live.harness

        async def speakers_played() -> bool:
            rows = [r for r in await h.deliveries(wid) if r["channel"] == "loudspeaker"]
            return {r["recipient"] for r in rows} == expected and all(r["state"] == "played" for r in rows)

        await h.wait_for(speakers_played, 60, f"every terminal of {wid} played")
        pipeline = await h.store.load_warning(wid, 1)
        assert pipeline is not None and pipeline.source == "manual" and pipeline.headline == "山洪红色预警"

        async def speakers_100() -> bool:
            s = await call(http, live, "GET", f"/api/v1/warnings/{wid}/status", "grid")
            return bool(s["villages_total"] == len(villages) and s["terminals_percent"] == 100.0)

        # 到村: every village's terminals played. 到户 also needs the people channels, which this stack
        # does not deliver: households stay open, so the headline is below 100 % and the warning not done.
        await h.wait_for(speakers_100, 30, "the live status with every loudspeaker played")
        s = await call(http, live, "GET", f"/api/v1/warnings/{wid}/status", "grid")
        assert s["households_open"] == s["households"] > 0 and (s["percent"], s["done"]) == (0.0, False)
        assert s["open_households"] and len(s["unreached"]) == len(villages)

        report = await call(http, live, "GET", f"/api/v1/warnings/{wid}/report", "grid")
        assert (report["warning_id"], report["drill"], report["headline"]) == (wid, False, "山洪红色预警")
        assert report["households"] == sum(1 for x in small_county.households if x.cell_code[:12] in villages)
        async with http.get(
            f"{live.api.url}/api/v1/warnings/{wid}/report.html",
            headers={"Authorization": f"Bearer {live.tokens['grid']}"},
        ) as r:
            assert r.status == 200 and r.content_type == "text/html" and "山洪红色预警" in await r.text()
