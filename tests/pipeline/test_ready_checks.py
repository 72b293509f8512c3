"""What /ready checks besides the consumer's assignment (pipeline/health.py): the Kafka broker answers a
metadata request (real Tansu, then SIGKILLed), the database answers (real SQLite, then a broken file),
the loudspeakers' MQTT link is up (a real Mosquitto, then stopped), the reconciler is not failing over
and over."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from channels.loudspeaker import LoudspeakerChannel
from tests.speaker.broker import mosquitto
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.embedded.brokers import EmbeddedBrokers
from warnengine.pipeline import health
from warnengine.pipeline.health import RECONCILE_FAILURES_NOT_READY, ReadyChecks
from warnengine.pipeline.resources import Resources
from warnengine.settings import Settings


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Resources]:
    rt = Resources(Settings(data_dir=tmp_path))
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await migrate(engine)
    rt.store = Store(engine, SystemClock())
    yield rt
    await rt.store.close()


async def test_database_and_reconciler_checks(rt: Resources, tmp_path: Path) -> None:
    checks = ReadyChecks(rt, None)
    assert await checks.failed() == []
    rt.reconcile_failures = RECONCILE_FAILURES_NOT_READY
    assert await checks.failed() == ["reconciler"]

    # A database that cannot be queried (the file is not SQLite): 503 with "database".
    (tmp_path / "gone.db").write_bytes(b"not a database " * 100)
    broken = Resources(Settings(data_dir=tmp_path))
    broken.store = Store(connect(f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}"), SystemClock())
    broken_checks = ReadyChecks(broken, None)
    try:
        assert await broken_checks.failed() == ["database"]
        assert await broken_checks.failed() == ["database"]  # cached answer
    finally:
        await broken.store.close()


async def test_mqtt_down_for_a_while_is_not_ready(
    rt: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "MQTT_DOWN_NOT_READY_S", 0.5)
    checks = ReadyChecks(rt, None)
    with mosquitto(tmp_path / "mqtt") as port:
        speaker = LoudspeakerChannel("127.0.0.1", port, "ready-test")
        await speaker.start()
        rt.speaker = speaker
        assert await checks.failed() == []
    # The broker is stopped.
    await asyncio.sleep(0.2)  # paho notices the closed connection
    try:
        assert await checks.failed() == []  # just lost: a blip is not an outage
        await asyncio.sleep(0.6)
        assert await checks.failed() == ["mqtt"]
    finally:
        await speaker.stop()


async def test_kafka_broker_gone_is_not_ready(
    rt: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "CHECK_CACHE_S", 0.0)
    brokers = EmbeddedBrokers(tmp_path, with_mqtt=False)
    brokers.start()
    checks = ReadyChecks(rt, f"127.0.0.1:{brokers.kafka_port}")
    try:
        assert await checks.failed() == []
        brokers.procs[0].send_signal(signal.SIGKILL)
        brokers.procs[0].wait()
        assert await checks.failed() == ["kafka"]
        brokers.procs[0] = brokers.start_kafka()  # back on its port: ready again without a restart
        await asyncio.sleep(1.0)
        assert await checks.failed() == []
    finally:
        await checks.close()
        brokers.stop()
