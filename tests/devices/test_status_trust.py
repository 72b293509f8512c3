"""Retained status counts only on a terminal's own topic, for a terminal in the directory.

Real Mosquitto, the worker's status listener and health stage, SQLite: an anonymous client's retained
status for a terminal that does not exist, on the topic of the wrong village or with county/township levels
that do not fit the village, is counted and dead-lettered, never applied; the terminal's own status is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.speaker.broker import VILLAGE
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.devices.health import DeviceHealth
from warnengine.devices.listener import DeviceReportListener
from warnengine.model import Device
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire.loudspeaker import device_topic

DEVICE = "spk-own-1"
STATUS = json.dumps({"online": True, "volume": 80, "playing": None, "firmware": "forged/1"}).encode()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'status.db'}")
    await migrate(engine)
    s = Store(engine, SystemClock())
    await s.import_directory([], [], [], [Device(device_id=DEVICE, cell_code=VILLAGE, lon=102.7, lat=25.0)])
    yield s
    await s.close()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_status_only_from_a_known_terminals_own_topic(broker: int, store: Store) -> None:
    health = DeviceHealth(store, store.dead_letter, offline_after_s=300)
    listener = DeviceReportListener("127.0.0.1", broker, "test-status-" + secrets.token_hex(4))
    bridge = asyncio.create_task(listener.run(health, sweep_interval_s=60))
    stranger = AsyncMqtt("127.0.0.1", broker, "anonymous-" + secrets.token_hex(4))
    other_village = VILLAGE[:-1] + "9"
    forged = {
        device_topic(VILLAGE, "spk-ghost-" + secrets.token_hex(3), "status"): "status_unknown_device",
        device_topic(other_village, DEVICE, "status"): "status_topic_mismatch",
        f"warn/v1/110000000000/110000001000/{VILLAGE}/{DEVICE}/status": "bad_topic",
    }

    async def reasons() -> list[str]:
        return [d["reason"] for d in await store.dead_letters()]

    async def online() -> bool | None:
        async with store.engine.connect() as conn:
            q = select(t.devices.c.online).where(t.devices.c.device_id == DEVICE)
            return (await conn.execute(q)).scalar_one()  # type: ignore[no-any-return]

    seen = 0
    try:
        await asyncio.sleep(0.3)
        await stranger.connect()
        for topic in forged:
            await stranger.publish(topic, STATUS, 1, retain=True)
        await until(lambda: _has(reasons, sorted(forged.values())), "the forged statuses dead-lettered", 5)
        assert await online() is None  # never heard from: nothing forged was applied
        async with store.engine.connect() as conn:
            assert len((await conn.execute(select(t.devices))).all()) == 1  # no ghost row either
        await stranger.publish(device_topic(VILLAGE, DEVICE, "status"), STATUS, 1, retain=True)
        await until(lambda: _online(online), "the terminal's own status applied")
        seen = len(await reasons())
    finally:
        for topic in [*forged, device_topic(VILLAGE, DEVICE, "status")]:  # clear the retained messages
            with contextlib.suppress(Exception):
                await stranger.publish(topic, b"", 1, retain=True)
        # Let the listener take the clearing messages before it is cancelled (the bad topic's one is
        # dead-lettered once more): cancelled mid-batch, its shutdown can hang.
        with contextlib.suppress(AssertionError):
            await until(lambda: _count(reasons, seen + 1), "the clearing messages handled", 3)
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge
        await stranger.disconnect()


async def _has(reasons: Callable[[], Awaitable[list[str]]], want: list[str]) -> bool:
    # Other tests' retained statuses on the session's broker may be dead-lettered here too.
    return not Counter(want) - Counter(await reasons())


async def _online(online: Callable[[], Awaitable[bool | None]]) -> bool:
    return await online() is True


async def _count(reasons: Callable[[], Awaitable[list[str]]], n: int) -> bool:
    return len(await reasons()) >= n
