"""An earthquake early warning through the running pipeline (Tansu, Mosquitto, workers as `up` starts them):
the normalise stage itself publishes one group command for the county; every terminal plays it once and
its own ack marks its own delivery; the one that was offline gets its own command from the reconciler's
re-send; the Cancel (误报取消) stops every terminal, again by group command."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from statistics import fmean

from tests.integration.conftest import Harness
from warnengine.directory import County
from warnengine.model import command_id
from warnengine.model.warning import chain_id


def eew(event_id: str, county: County, status: str = "issued") -> bytes:
    """A strong shallow earthquake under the county: intensity VI or more over all of it."""
    return json.dumps(
        {
            "kind": "eew",
            "event_id": event_id,
            "magnitude": 6.5,
            "depth_km": 10,
            "lat": fmean(h.lat for h in county.households),
            "lon": fmean(h.lon for h in county.households),
            "origin_time": datetime.now(UTC).isoformat(),
            "epicentre": "示范县",
            "intensity_radius_km": {"VI": 400.0, "VIII": 30.0},
            "status": status,
        },
        ensure_ascii=False,
    ).encode()


async def test_an_earthquake_goes_out_by_group_command_and_its_cancel_stops_every_terminal(
    harness: Harness, small_county: County
) -> None:
    devices = {d.device_id for d in small_county.devices}
    county_code = next(c.code for c in small_county.cells if c.level.value == "county")
    offline = sorted(devices)[0]
    farm = await harness.start_farm(offline=(offline,))
    await harness.start_worker()
    event = f"EEW-{time.time_ns()}"
    await harness.send("earthquake", eew(event, small_county))
    warning_id = chain_id("eew", event)

    async def online_played() -> bool:
        rows = {r["recipient"]: r["state"] for r in await harness.deliveries(warning_id)}
        return set(rows) == devices and all(rows[d] == "played" for d in devices - {offline})

    await harness.wait_for(online_played, 60, "every online terminal played the earthquake warning")
    first = command_id(warning_id, 1)
    log = harness.stack.worker_log(0).read_text()
    assert '"event": "speakers_fast_path"' in log and "speakers_fast_path_failed" not in log  # normalise
    assert all(farm.command_ids[d] == [first] and farm.via[d] == [county_code] for d in devices - {offline})

    farm.offline.clear()  # back: the reconciler re-sends its own command, under the same id
    await harness.wait_all_played(warning_id, devices)
    assert farm.command_ids[offline] == [first] and farm.via[offline] == ["own"]

    await harness.send("earthquake", eew(event, small_county, status="cancelled"))

    async def stopped() -> bool:
        rows = [r for r in await harness.deliveries(warning_id) if r["version"] != 1]
        return {r["recipient"] for r in rows} == devices and all(r["state"] == "played" for r in rows)

    await harness.wait_for(stopped, 60, "the Cancel's stop played on every terminal")
    for d in devices:  # the warning, then its stop: one command each, nothing twice
        assert len(farm.command_ids[d]) == 2 and farm.command_ids[d][0] == first
        assert farm.via[d][-1] == county_code
    assert await harness.store.dead_letters() == []
