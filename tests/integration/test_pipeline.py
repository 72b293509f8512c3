"""A warning from a Kafka feed to every loudspeaker and back, with bad input on the same feed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import shapely
from shapely.geometry import shape

from tests.integration.conftest import Harness
from warnengine.directory import County
from warnengine.embedded.demo import rainstorm_cap
from warnengine.model.warning import chain_id
from warnengine.wire import records, topics

SAMPLES = Path(__file__).parents[1] / "normalise" / "samples"


def county_ring(county: County) -> list[tuple[float, float]]:
    union = shapely.union_all([shape(c.geometry) for c in county.cells if c.level == "village"])
    return [(x, y) for x, y in union.envelope.buffer(0.01).exterior.coords]


def json_warning(
    identifier: str, codes: list[str], msg_type: str = "Alert", references: list[str] | None = None
) -> bytes:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "msg_type": msg_type,
            "references": references or [],
            "sender": "flood.example.cn",
            "identifier": identifier,
            "sent": now.isoformat(),
            "hazard": "flood",
            "severity": "橙",
            "event": "山洪",
            "headline": "山洪橙色预警",
            "expires": (now + timedelta(hours=2)).isoformat(),
            "areas": [{"description": "乡镇", "codes": codes}],
        },
        ensure_ascii=False,
    ).encode()


async def test_cap_warning_reaches_every_terminal_and_acks_are_recorded(
    harness: Harness, small_county: County
) -> None:
    farm = await harness.start_farm()
    await harness.start_worker()
    identifier = f"T-{time.time_ns()}"
    await harness.send("meteo", rainstorm_cap(county_ring(small_county), identifier, datetime.now(UTC)))
    warning_id = chain_id("demo.meteo.example.cn", identifier)
    devices = {d.device_id for d in small_county.devices}

    await harness.wait_all_played(warning_id, devices)
    rows = await harness.deliveries(warning_id)
    assert {r["recipient"] for r in rows} == devices
    assert all(r["attempts"] == 1 for r in rows)  # no needless re-send
    # Every terminal verified the signature and played exactly once.
    assert all(farm.terminals[d].state.played == 1 for d in devices)
    assert farm.stats()["rejected"] == 0
    assert await harness.store.dead_letters() == []


async def test_json_feed_by_township_code(harness: Harness, small_county: County) -> None:
    await harness.start_farm()
    await harness.start_worker()
    township = next(c for c in small_county.cells if c.level == "township")
    villages = {c.code for c in small_county.cells if c.parent == township.code}
    expected = {d.device_id for d in small_county.devices if d.cell_code in villages}
    identifier = f"J-{time.time_ns()}"
    await harness.send("flood", json_warning(identifier, [township.code]))
    warning_id = chain_id("flood.example.cn", identifier)

    async def done() -> bool:
        rows = await harness.deliveries(warning_id)
        return {r["recipient"] for r in rows if r["state"] == "played"} == expected

    await harness.wait_for(done, 60, "the township's terminals")

    # The loudspeaker fast path plays before the people's plan is made: wait for the plan too.
    async def resolved() -> bool:
        return await harness.store.warning_state(warning_id, 1) == "resolved"

    await harness.wait_for(resolved, 60, "the warning to be resolved")
    # A copy of the resolved version re-emitted (the reconciler re-emits a version that waited its turn
    # longer than the grace): skipped, not planned a second time.
    again = await harness.store.load_warning(warning_id, 1)
    assert again is not None
    await harness.send_raw(topics.WARNINGS, records.encode(again))
    log = harness.settings.data_dir / "logs" / "worker-0.log"

    def lines(event: str) -> int:
        return sum(1 for x in log.read_text().splitlines() if f'"{event}"' in x and warning_id in x)

    async def skipped() -> bool:
        return lines("resolve_skipped_resolved") == 1

    await harness.wait_for(skipped, 60, "the resolve stage to skip the planned copy")
    assert lines("warning_resolved") == 1


async def test_bad_feed_messages_are_dead_lettered_and_the_line_keeps_flowing(
    harness: Harness, small_county: County
) -> None:
    await harness.start_farm()
    await harness.start_worker()
    await harness.send("meteo", b"\x00\x01 this is not a warning")
    await harness.send("meteo", (SAMPLES / "malformed_xxe_external_entity.xml").read_bytes())
    await harness.send(
        "geohazard",
        json.dumps(
            {
                "sender": "x",
                "identifier": "no-area",
                "sent": datetime.now(UTC).isoformat(),
                "hazard": "geohazard",
                "severity": "red",
                "event": "滑坡",
                "areas": [],
            }
        ).encode(),
    )
    identifier = f"G-{time.time_ns()}"
    village = next(c for c in small_county.cells if c.level == "village")
    await harness.send("flood", json_warning(identifier, [village.code]))
    warning_id = chain_id("flood.example.cn", identifier)

    async def good_one_played() -> bool:
        rows = await harness.deliveries(warning_id)
        return bool(rows) and all(r["state"] == "played" for r in rows)

    await harness.wait_for(good_one_played, 60, "the good warning behind three bad ones")
    reasons = sorted(r["reason"] for r in await harness.store.dead_letters())
    assert reasons == ["no_area", "not_xml_or_json", "xml_forbidden_construct"]
    port = harness.stack.worker_ports[0]
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    assert 'warnengine_dead_letters_total{reason="no_area",stage="normalise"} 1.0' in text
    assert 'warnengine_feed_messages_total{source="flood",verdict="accepted"} 1.0' in text


async def test_silent_terminal_stays_open_and_is_resent(harness: Harness, small_county: County) -> None:
    silent = small_county.devices[0]
    farm = await harness.start_farm(offline=(silent.device_id,))
    await harness.start_worker()
    identifier = f"S-{time.time_ns()}"
    await harness.send("flood", json_warning(identifier, [silent.cell_code]))
    warning_id = chain_id("flood.example.cn", identifier)

    async def resent() -> bool:
        rows = {r["recipient"]: r for r in await harness.deliveries(warning_id)}
        mine = rows.get(silent.device_id)
        others = [r for k, r in rows.items() if k != silent.device_id]
        if not mine:
            return False
        return mine["attempts"] >= 2 and all(r["state"] == "played" for r in others)

    await harness.wait_for(resent, 60, "a re-send to the silent terminal")
    row = next(r for r in await harness.deliveries(warning_id) if r["recipient"] == silent.device_id)
    assert row["state"] == "sent"  # open and visible, never closed without an ack or expiry
    assert farm.terminals[silent.device_id].state.received == 0


async def test_update_before_alert_then_cancel(harness: Harness, small_county: County) -> None:
    """Out of order: the Update goes out, the late Alert is recorded but never sent; Cancel stops all."""
    await harness.start_farm()
    await harness.start_worker()
    villages = [c.code for c in small_county.cells if c.level == "village"]
    original = f"U-{time.time_ns()}"
    warning_id = chain_id("flood.example.cn", original)
    await harness.send("flood", json_warning(f"{original}-u", villages[:2], "Update", [original]))

    async def update_played() -> bool:
        rows = await harness.deliveries(warning_id)
        return bool(rows) and all(r["state"] == "played" and r["version"] == 2 for r in rows)

    await harness.wait_for(update_played, 60, "the Update's terminals")
    await harness.send("flood", json_warning(original, villages))  # the Alert, late, county-wide
    await harness.send("flood", json_warning(f"{original}-c", [], "Cancel", [original, f"{original}-u"]))

    async def stopped() -> bool:  # the Cancel went out as `stop` to the terminals the Update reached
        rows = await harness.deliveries(warning_id)
        stops = [r for r in rows if r["version"] == 3]
        return bool(stops) and all(r["state"] == "played" for r in stops)

    await harness.wait_for(stopped, 60, "the Cancel's stop commands")
    assert await harness.store.warning_state(warning_id, 1) in ("superseded", "cancelled")
    assert await harness.store.warning_state(warning_id, 2) == "cancelled"
    rows = await harness.deliveries(warning_id)
    assert {r["version"] for r in rows} == {2, 3}  # the late Alert never went out
    reached = {r["recipient"] for r in rows if r["version"] == 2}
    assert {r["recipient"] for r in rows if r["version"] == 3} == reached
    # The late Alert's record delivered to the resolve stage again (a redelivery after a crash): still no
    # group command, though it names every village of the county as whole cells.
    late = await harness.store.load_warning(warning_id, 1)
    assert late is not None
    await harness.send_raw(topics.WARNINGS, records.encode(late))
    log = harness.settings.data_dir / "logs" / "worker-0.log"

    async def skipped() -> bool:
        return any(
            "groups_skipped_not_live" in line and warning_id in line for line in log.read_text().splitlines()
        )

    await harness.wait_for(skipped, 60, "the resolve stage to refuse the superseded version's group commands")
    assert {r["version"] for r in await harness.deliveries(warning_id)} == {2, 3}
