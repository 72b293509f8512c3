"""A terminal that dies mid-warning: its Last Will reaches the registry, and the warning is reported open.

Real Mosquitto, the reference terminal as its own process (`warnengine speaker`), the health stage and
listener as the worker runs them, SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.speaker.broker import VILLAGE, EngineSide, command
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db import tables as t
from warnengine.db.store import Store, VillageTarget
from warnengine.devices.health import DeviceHealth
from warnengine.devices.listener import DeviceReportListener
from warnengine.model import Channel, Device
from warnengine.signing import Signer

DEVICE = "spk-lwt-1"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
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


def speaker(port: int, pub: Path, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "warnengine", "speaker", "--device", DEVICE, "--village", VILLAGE]
    args += ["--mqtt-url", f"mqtt://127.0.0.1:{port}", "--public-key", str(pub), "--play-seconds", "30"]
    # Its replay journal beside the test's other files, not under ./var where the next run would find it.
    args += ["--journal", str(log.parent / f"{DEVICE}.journal")]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


async def test_terminal_dying_mid_warning_is_detected_and_reported(
    broker: int, store: Store, tmp_path: Path
) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    pub = tmp_path / "engine.pub"
    pub.write_bytes(signer.public_pem())
    health = DeviceHealth(store, store.dead_letter, offline_after_s=30)
    listener = DeviceReportListener("127.0.0.1", broker, "test-devices")
    bridge = asyncio.create_task(listener.run(health, sweep_interval_s=0.5))
    engine = await EngineSide(broker).start()
    proc = speaker(broker, pub, tmp_path / "speaker.log")

    async def device() -> Any:
        async with store.engine.connect() as conn:
            return (await conn.execute(select(t.devices).where(t.devices.c.device_id == DEVICE))).one()

    try:
        await until(lambda: _is(device, online=True), "the terminal's online status in the registry")
        target = VillageTarget("w-red", 1, VILLAGE, Channel.LOUDSPEAKER, [DEVICE], SystemClock().now() + 600)
        (due,) = await store.claim_due([target], resend_after=30, max_attempts=5)
        cmd = command(signer, SystemClock(), id=due.delivery_id, warning_id="w-red")
        await engine.send(DEVICE, cmd, expiry_s=600)
        await engine.wait(lambda: ("playing", None) in engine.states(DEVICE, cmd["id"]))
        await until(lambda: _is(device, playing=cmd["id"]), "playing recorded")

        proc.kill()  # power cut mid-warning: no goodbye, the broker publishes the Last Will
        proc.wait()
        await until(lambda: _is(device, online=False), "the Last Will in the registry")
        row = await device()
        assert (row.offline_reason, row.playing) == ("will", None)
        async with store.engine.connect() as conn:
            audit = (await conn.execute(select(t.audit_log).where(t.audit_log.c.actor == "devices"))).one()
        assert (audit.action, audit.subject) == ("terminal_offline", DEVICE)
        assert '"open_warnings": ["w-red"]' in audit.detail
        assert REGISTRY.get_sample_value("warnengine_terminals", {"state": "offline"}) == 1
        # Its village's only terminal: the village is silent (the WarnengineVillageTerminalsOffline alert).
        assert REGISTRY.get_sample_value("warnengine_villages_silent") == 1

        # A garbled status is dead-lettered with its reason; the bridge keeps going.
        await engine.mqtt.publish(f"warn/v1/530102000000/530102001000/{VILLAGE}/{DEVICE}/status", b"{nope", 1)
        await until(lambda: _dead(store, "status_not_json"), "the dead letter")

        proc = speaker(broker, pub, tmp_path / "speaker.log")  # back from the power cut
        await until(lambda: _is(device, online=True), "online again")
        assert (await device()).offline_since is None
        await health.refresh_gauge()
        assert REGISTRY.get_sample_value("warnengine_villages_silent") == 0
    finally:
        proc.kill()
        proc.wait()
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge
        await engine.close()


async def _is(row: Callable[[], Awaitable[object]], **want: object) -> bool:
    r = await row()
    return all(getattr(r, k) == v for k, v in want.items())


async def _dead(store: Store, reason: str) -> bool:
    return any(d["reason"] == reason and d["stage"] == "devices" for d in await store.dead_letters())
