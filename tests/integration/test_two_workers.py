"""Two workers in one consumer group, on SQLite and on PostgreSQL; SIGKILL one mid-warning and never restart
it: the other takes over its partitions, every terminal still plays the warning once and every person gets
their SMS once (or the store flags the send a kill left unsure), while residents' replies through the API's
Twilio webhook, before and during the rebalance, each reach their household. Also runs `promtool check
metrics` on the live /metrics of each worker."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
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
from warnengine.wire import topics

PARTITIONS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path, wide_county: tuple[County, Path]
) -> AsyncIterator[tuple[Harness, SmsWorld]]:
    # Per-terminal commands: a county-wide group command is one publish, over before any kill; the kill
    # must land in the middle of a fan-out by village tasks (what targeted subsets and re-sends use).
    over = {**await database(request), "group_commands": False}
    async with (
        running_stack(
            tmp_path / "var", wide_county[1], resend_after_s=5.0, topic_partitions=PARTITIONS, **over
        ) as h,
        sms_world(h, tmp_path, rate_per_s=400) as world,
    ):
        yield h, world


async def scrape(port: int) -> str:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as r,
    ):
        assert r.status == 200
        return await r.text()


def sample(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{want}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def promtool_check(text: str) -> None:
    tool = shutil.which("promtool")
    assert tool, "promtool not found: install the Debian package `prometheus`"
    r = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


async def test_survivor_takes_over_a_killed_workers_partitions(
    pair: tuple[Harness, SmsWorld], wide_county: tuple[County, Path]
) -> None:
    h, world = pair
    county, _ = wide_county
    devices = {d.device_id for d in county.devices}
    farm = await h.start_farm()
    h.stack.start_worker(0)
    h.stack.start_worker(1)
    await h.stack.wait_ready(0)
    await h.stack.wait_ready(1)
    ports = dict(h.stack.worker_ports)

    # Both workers hold part of the village tasks before the warning, or the kill proves nothing.
    async def split() -> bool:
        held = [
            sample(await scrape(p), "warnengine_assigned_partitions", topic=topics.VILLAGE_TASKS)
            for p in ports.values()
        ]
        return all(n > 0 for n in held) and sum(held) == PARTITIONS

    await h.wait_for(split, 60, "the village-task partitions split between the two workers")

    identifier = f"K2-{time.time_ns()}"
    await h.send("meteo", rainstorm_cap(county_ring(county), identifier, datetime.now(UTC)))
    warning_id = chain_id("demo.meteo.example.cn", identifier)

    deadline = time.monotonic() + 60
    planned = 0
    # Kill as soon as the people's fan-out (village tasks, spread over both workers) is under way. The
    # loudspeakers' fast path (pipeline/speakers.py) may have finished by then: whatever it left, and every
    # re-send, is the survivor's.
    while not planned or not world.twilio.log:
        assert time.monotonic() < deadline, "no commands or SMS arrived before the kill"
        planned = planned or len(await sms_rows(h, warning_id))
        await asyncio.sleep(0.005)
    await world.reply(pick_repliers(world, await sms_rows(h, warning_id), 0.05, seed=1))
    h.stack.kill_worker(1)  # SIGKILL, and no restart
    killed_at = time.monotonic()
    at_kill, texts_at_kill = len(farm.first_command_at), len(world.twilio.log)
    assert texts_at_kill < planned, "every SMS went out before the kill; the test proves nothing"
    # Replies during the rebalance: the channel-event partitions move to the survivor too.
    await world.reply(pick_repliers(world, await sms_rows(h, warning_id), 0.05, seed=2))

    async def survivor_has_all() -> bool:
        text = await scrape(ports[0])
        return sample(text, "warnengine_assigned_partitions", topic=topics.VILLAGE_TASKS) == PARTITIONS

    await h.wait_for(survivor_has_all, 60, "worker 0 to be assigned every village-task partition")
    takeover_s = time.monotonic() - killed_at

    # Every terminal got its command under one id and played it once: the survivor finished the fan-out.
    async def farm_played() -> bool:
        return all(farm.terminals[d].state.played >= 1 for d in devices)

    await h.wait_for(farm_played, 60, "every terminal played with one worker left")
    done_s = time.monotonic() - killed_at
    assert set(farm.first_command_at) == devices
    for d in devices:
        ids = Counter(farm.command_ids[d])
        assert len(ids) == 1, f"{d} got different command ids: {ids}"
        assert farm.terminals[d].state.played == 1, f"{d} played {farm.terminals[d].state.played} times"
    stats = farm.stats()
    assert stats["rejected"] == 0

    text = await scrape(ports[0])
    promtool_check(text)
    lag = sample(text, "warnengine_consumer_lag", topic=topics.VILLAGE_TASKS)
    print(
        f"killed worker 1 after {at_kill}/{len(devices)} terminals; worker 0 held every partition after "
        f"{takeover_s:.1f}s, every terminal played after {done_s:.1f}s; duplicates recognised by id: "
        f"{stats['duplicates']}; village-task lag now {lag:.0f}"
    )

    # The record: every delivery reached by a command, and (once its played ack is in) played.
    rows = await h.deliveries(warning_id)
    assert len(rows) == len(devices)
    # (A delivery can still read "pending" here: its worker died after the publish, before recording
    # "sent"; the terminal's acks then move it forward. Wait for that instead of asserting a snapshot.)
    assert all(r["attempts"] >= 1 for r in rows)

    # Every worker receives every terminal ack (no shared subscription, see settings.py), so the
    # killed worker's persistent MQTT session holding copies costs nothing: all acks reach the record.
    await h.wait_all_played(warning_id, devices, timeout=30)

    async def all_texted() -> bool:
        return all(r["state"] in ("sent", "acknowledged") for r in await sms_rows(h, warning_id))

    await h.wait_for(all_texted, 60, "every SMS recorded as sent")
    await world.reply(pick_repliers(world, await sms_rows(h, warning_id), 0.05, seed=3))
    await wait_replies_applied(h, world, warning_id, 30)
    rows = await sms_rows(h, warning_id)
    twice = assert_each_text_once(world, rows)
    flagged = sum(r["possible_duplicates"] for r in rows)
    print(
        f"SMS: {texts_at_kill}/{len(rows)} out at the kill; sent twice: {twice}; flagged: {flagged}; "
        f"replies: {len(world.replied)}"
    )
    assert flagged <= IN_FLIGHT * RECORD_EVERY, f"{flagged} possible duplicates: more than was in flight"
    await assert_replies_reached_their_households(h, world, warning_id)
