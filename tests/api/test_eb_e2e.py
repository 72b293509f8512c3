"""One warning over a township whose villages are reached two ways: most terminals over MQTT (the simulated
farm), the terminals of two villages through the county's EB platform (the fake platform, whose reports
come back to the API's /webhooks/eb/ebd). Through the real pipeline — Tansu, Mosquitto, SQLite, a worker
process — both show in one live status and one closure report."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.api.conftest import ROLES
from tests.api.e2e import ROOT, Live
from tests.api.test_e2e import TOWNSHIP, call
from tests.fakes.eb_platform import FakeEbPlatform
from tests.integration.conftest import running_stack
from warnengine.api.app import start_api
from warnengine.api.auth import digest
from warnengine.clock import SystemClock
from warnengine.directory import County, write_county
from warnengine.embedded.terminals import start_farm
from warnengine.model import Device
from warnengine.signing.sm2 import load_or_create_sm2_signer

SRC_EBRID = "3410526000000" + "0100000001"  # our resource code: county 410526


def with_eb_villages(county: County, villages: list[str]) -> tuple[County, set[str]]:
    """The county with the terminals of `villages` behind the EB platform, renamed to EBRIDs."""
    devices, eb = [], set()
    for n, d in enumerate(county.devices):
        if d.cell_code in villages:
            ebrid = f"4{d.cell_code}10{n:08d}"
            d = Device(**{**d.model_dump(), "device_id": ebrid, "provider": "eb"})
            eb.add(ebrid)
        devices.append(d)
    return dataclasses.replace(county, devices=devices), eb


@contextlib.asynccontextmanager
async def eb_stack(
    tmp_path: Path, county_dir: Path, password_hash: str, fake: FakeEbPlatform, eb: set[str]
) -> AsyncIterator[Live]:
    async with running_stack(tmp_path / "var", county_dir) as h:
        fake.engine_public_key = load_or_create_sm2_signer(h.settings.sm2_key_file()).public
        devices = await h.store.device_villages()
        h.farm = await start_farm(
            h.settings, [(d, v) for d, v in devices.items() if d not in eb], SystemClock()
        )
        farm_task = asyncio.create_task(h.farm.run())
        await h.start_worker()
        tokens = {}
        for name, role in ROLES.items():
            await h.store.add_user(name, password_hash, role, name.upper())
            tokens[name] = f"we_eb_{name}"
            await h.store.add_token(digest(tokens[name]), name, "e2e", None)
        settings = h.settings.model_copy(
            update={"api_port": 0, "api_policy_file": ROOT / "config" / "approval.yaml"}
        )
        api = await start_api(settings)
        fake.report_url = f"{api.url}/webhooks/eb/ebd"
        try:
            yield Live(h, api, tokens)
        finally:
            await api.stop()
            farm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await farm_task


async def test_mqtt_and_eb_villages_in_one_status_and_one_report(
    tmp_path: Path,
    small_county: County,
    password_hash: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    villages = sorted({c.code for c in small_county.cells if c.parent == TOWNSHIP})
    with_speakers = sorted({d.cell_code for d in small_county.devices if d.cell_code in villages})
    assert len(with_speakers) >= 3
    county, eb = with_eb_villages(small_county, with_speakers[:2])
    write_county(county, tmp_path / "county")
    expected = {d.device_id for d in county.devices if d.cell_code in villages}
    terminals = {v: sorted(d for d in eb if d[1:13] == v) for v in with_speakers[:2]}
    async with FakeEbPlatform("", terminals=terminals) as fake:
        (tmp_path / "platform.pub").write_text(fake.public_key)
        for key, value in {
            "WARNENGINE_EB_PLATFORM_URL": fake.url,
            "WARNENGINE_EB_SRC_EBRID": SRC_EBRID,
            "WARNENGINE_EB_PLATFORM_PUBLIC_KEY_FILE": str(tmp_path / "platform.pub"),
            "WARNENGINE_EB_HEARTBEAT_S": "2",
        }.items():
            monkeypatch.setenv(key, value)
        async with (
            eb_stack(tmp_path, tmp_path / "county", password_hash, fake, eb) as live,
            aiohttp.ClientSession() as http,
        ):
            wid = await release(http, live)
            h = live.harness

            async def speakers_played() -> bool:
                rows = await h.deliveries(wid)
                return {r["recipient"] for r in rows} == expected and all(
                    r["state"] == "played" for r in rows
                )

            await h.wait_for(
                speakers_played, 90, f"every terminal of {wid} played, over MQTT and the platform"
            )
            s = await call(http, live, "GET", f"/api/v1/warnings/{wid}/status", "grid")
            by_code = {v["code"]: v for v in s["villages"]}
            for v in with_speakers:  # the platform's villages and the MQTT ones alike
                assert by_code[v]["terminals_played"] == by_code[v]["terminals"] > 0, v
            assert s["terminals_percent"] == 100.0
            report = await call(http, live, "GET", f"/api/v1/warnings/{wid}/report", "grid")
            assert report["deliveries"]["loudspeaker"] == {"played": len(expected)}
            ebms = [e for e in fake.received if e.header.ebd_type == "EBM"]
            assert ebms and {a for e in ebms for a in getattr(e.body, "area_codes", ())} == set(terminals)
            assert all(a.code == 1 for a in fake.report_answers)
            health = await terminal_health(h.store, eb)
            assert health == dict.fromkeys(eb, True)  # EBRDTState 播发中 → online


async def release(http: aiohttp.ClientSession, live: Live) -> str:
    body: dict[str, Any] = {
        "hazard": "flood",
        "severity": "red",
        "event": "山洪",
        "headline": "山洪红色预警",
        "instruction": "沿河群众立即转移",
        "areas": [{"codes": [TOWNSHIP]}],
    }
    w = await call(http, live, "POST", "/api/v1/warnings", "disp", json=body)
    wid = str(w["warning_id"])
    for step, who in (("submit", "disp"), ("approve", "appr"), ("release", "disp")):
        await call(http, live, "POST", f"/api/v1/warnings/{wid}/{step}", who, json={"revision": 1})
    return wid


async def terminal_health(store: Any, devices: set[str]) -> dict[str, bool]:
    from sqlalchemy import select

    from warnengine.db import tables as t

    d = t.devices.c
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(d.device_id, d.online).where(d.device_id.in_(sorted(devices))))
        return {r.device_id: bool(r.online) for r in rows}
