"""SIGKILL the worker twice in a county-wide warning (mid loudspeaker fan-out, then mid SMS), on SQLite and
on PostgreSQL: every terminal still gets its command, every person their SMS exactly once (Twilio fake),
and residents' replies (through the API's real Twilio webhook, before, during and after the outage) each
reach their household."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.conftest import Harness, running_stack
from tests.integration.sms_world import (
    SmsWorld,
    assert_each_text_once,
    assert_replies_reached_their_households,
    database,
    pick_repliers,
    sms_rows,
    sms_world,
    wait_replies_applied,
)
from tests.integration.test_pipeline import county_ring
from warnengine.directory import County
from warnengine.dispatch.people import IN_FLIGHT, RECORD_EVERY
from warnengine.embedded.demo import rainstorm_cap
from warnengine.model.warning import chain_id


@pytest.fixture(params=["sqlite", "postgresql"])
async def crash_harness(
    request: pytest.FixtureRequest, tmp_path: Path, wide_county: tuple[County, Path]
) -> AsyncIterator[tuple[Harness, SmsWorld]]:
    # Per-terminal commands, so the kill lands mid fan-out (a group command is one publish).
    over = {**await database(request), "group_commands": False}
    async with (
        running_stack(tmp_path / "var", wide_county[1], resend_after_s=5.0, **over) as h,
        sms_world(h, tmp_path, rate_per_s=400) as world,
    ):
        yield h, world


async def test_sigkill_mid_warning_loses_nothing(
    crash_harness: tuple[Harness, SmsWorld], wide_county: tuple[County, Path]
) -> None:
    h, world = crash_harness
    county, _ = wide_county
    devices = {d.device_id for d in county.devices}
    farm = await h.start_farm()
    await h.start_worker(0)
    identifier = f"K-{time.time_ns()}"
    await h.send("meteo", rainstorm_cap(county_ring(county), identifier, datetime.now(UTC)))
    warning_id = chain_id("demo.meteo.example.cn", identifier)

    # First kill: mid loudspeaker fan-out (the fast path commands terminals before people are planned).
    deadline = time.monotonic() + 60
    while len(farm.first_command_at) < len(devices) // 10:
        assert time.monotonic() < deadline, "no commands arrived before the first kill"
        await asyncio.sleep(0.005)
    h.stack.kill_worker(0)
    at_kill = len(farm.first_command_at)
    assert at_kill < len(devices), "every terminal had its command before the kill; the test proves nothing"
    await h.start_worker(0)

    # Second kill: once some, but not all, people have their SMS; a few of those have answered already.
    planned = 0
    deadline = time.monotonic() + 90
    while not planned or len(world.twilio.log) < planned // 5 + 1:
        assert time.monotonic() < deadline, "no SMS arrived before the second kill"
        planned = planned or len(await sms_rows(h, warning_id))
        await asyncio.sleep(0.005)
    await world.reply(pick_repliers(world, await sms_rows(h, warning_id), 0.05, seed=1))
    h.stack.kill_worker(0)
    texts_at_kill = len(world.twilio.log)
    rows = await sms_rows(h, warning_id)
    assert texts_at_kill < len(rows), "every SMS went out before the kill; the test proves nothing"

    # Replies while no worker runs wait in Kafka (the API publishes them).
    await world.reply(pick_repliers(world, rows, 0.05, seed=2))
    await h.start_worker(0)

    await h.wait_all_played(warning_id, devices, timeout=120)

    async def all_texted() -> bool:
        return all(r["state"] in ("sent", "acknowledged") for r in await sms_rows(h, warning_id))

    await h.wait_for(all_texted, 90, "every SMS recorded as sent")
    await world.reply(pick_repliers(world, await sms_rows(h, warning_id), 0.05, seed=3))
    await wait_replies_applied(h, world, warning_id, 30)

    # Every terminal got its command; any duplicates carried the same command id and were not replayed.
    assert set(farm.first_command_at) == devices
    for d in devices:
        ids = Counter(farm.command_ids[d])
        assert len(ids) == 1, f"{d} got different command ids: {ids}"
        assert farm.terminals[d].state.played == 1
    stats = farm.stats()
    print(
        f"killed after {at_kill}/{len(devices)} terminals and {texts_at_kill}/{len(rows)} SMS; "
        f"duplicates recognised by id: {stats['duplicates']}; replies: {len(world.replied)}"
    )
    assert stats["rejected"] == 0
    rows = await sms_rows(h, warning_id)
    twice = assert_each_text_once(world, rows)
    flagged = sum(r["possible_duplicates"] for r in rows)
    print(f"SMS sent twice: {twice}; flagged as possible duplicates: {flagged}")
    # Only what was in flight at the kill may be unsure: IN_FLIGHT chunks at most, not a whole batch.
    assert flagged <= IN_FLIGHT * RECORD_EVERY, (
        f"{flagged} possible duplicates: outcomes were not recorded as they came"
    )
    await assert_replies_reached_their_households(h, world, warning_id)
