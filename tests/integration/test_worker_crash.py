"""SIGKILL the worker in the middle of a county-wide warning: every terminal still gets its command."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.conftest import Harness, running_stack
from tests.integration.test_pipeline import county_ring
from warnengine.directory import County
from warnengine.embedded.demo import rainstorm_cap
from warnengine.model.warning import chain_id


@pytest.fixture
async def crash_harness(tmp_path: Path, wide_county: tuple[County, Path]) -> AsyncIterator[Harness]:
    async with running_stack(tmp_path / "var", wide_county[1], resend_after_s=5.0) as h:
        yield h


async def test_sigkill_mid_warning_loses_nothing(
    crash_harness: Harness, wide_county: tuple[County, Path]
) -> None:
    h = crash_harness
    county, _ = wide_county
    devices = {d.device_id for d in county.devices}
    farm = await h.start_farm()
    await h.start_worker(0)
    identifier = f"K-{time.time_ns()}"
    await h.send("meteo", rainstorm_cap(county_ring(county), identifier, datetime.now(UTC)))
    warning_id = chain_id("demo.meteo.example.cn", identifier)

    # Kill once some, but not all, terminals have their command.
    deadline = time.monotonic() + 60
    while len(farm.first_command_at) < len(devices) // 10:
        assert time.monotonic() < deadline, "no commands arrived before the kill"
        await asyncio.sleep(0.005)
    h.stack.kill_worker(0)
    at_kill = len(farm.first_command_at)
    assert at_kill < len(devices), "the warning finished before the kill; the test proves nothing"

    await h.start_worker(0)

    await h.wait_all_played(warning_id, devices, timeout=120)
    # Every terminal got its command; any duplicates carried the same command id and were not replayed.
    assert set(farm.first_command_at) == devices
    for d in devices:
        ids = Counter(farm.command_ids[d])
        assert len(ids) == 1, f"{d} got different command ids: {ids}"
        assert farm.terminals[d].state.played == 1
    stats = farm.stats()
    print(
        f"killed after {at_kill}/{len(devices)} terminals; duplicates recognised by id: {stats['duplicates']}"
    )
    assert stats["rejected"] == 0
