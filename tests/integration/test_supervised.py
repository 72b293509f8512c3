"""`up`'s supervision against the real brokers: a SIGKILLed Kafka broker, MQTT broker or worker comes back
on the same port, and after a Kafka restart (Tansu in memory: empty) warnings still reach every terminal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.conftest import Harness, running_stack
from tests.integration.test_pipeline import county_ring
from warnengine.directory import County
from warnengine.embedded.brokers import wait_port
from warnengine.embedded.demo import rainstorm_cap
from warnengine.embedded.supervise import Supervisor
from warnengine.model.warning import chain_id


@pytest.fixture
async def supervised(tmp_path: Path, small_county_dir: Path) -> AsyncIterator[tuple[Harness, Supervisor]]:
    async with running_stack(tmp_path / "var", small_county_dir) as h:
        await h.start_worker(0)
        sup = h.stack.supervise()
        watch = asyncio.create_task(sup.run(interval=0.1))
        try:
            yield h, sup
        finally:
            sup.stopping = True
            with contextlib.suppress(asyncio.CancelledError):
                await watch


async def wait_restarted(h: Harness, sup: Supervisor, child: str, times: int = 1) -> None:
    async def done() -> bool:
        return sup.restarts.get(child, 0) >= times

    await h.wait_for(done, 60, f"{child} restarted")


async def warn(h: Harness, county: County) -> str:
    identifier = f"S-{time.time_ns()}"
    await h.send("meteo", rainstorm_cap(county_ring(county), identifier, datetime.now(UTC)))
    return chain_id("demo.meteo.example.cn", identifier)


async def test_kafka_sigkill_mid_warning_recovers_without_help(
    supervised: tuple[Harness, Supervisor], small_county: County
) -> None:
    h, sup = supervised
    devices = {d.device_id for d in small_county.devices}
    await h.start_farm()
    warning_id = await warn(h, small_county)

    async def planned() -> bool:
        return bool(await h.deliveries(warning_id))

    await h.wait_for(planned, 60, "deliveries planned")
    assert h.stack.brokers is not None
    port = h.stack.brokers.kafka_port
    h.stack.brokers.procs[0].send_signal(signal.SIGKILL)
    await wait_restarted(h, sup, "kafka")
    assert h.stack.brokers.kafka_port == port
    wait_port(port)
    await wait_restarted(h, sup, "worker-0")  # restarted after the topics were recreated
    await h.stack.wait_ready(0)

    await h.wait_all_played(warning_id, devices, timeout=120)
    # The producer of the test talked to the old broker; a new one for the next warning.
    if h._producer is not None:
        with contextlib.suppress(Exception):
            await h._producer.stop()
        h._producer = None
    second = await warn(h, small_county)
    await h.wait_all_played(second, devices, timeout=120)


async def test_mqtt_broker_and_worker_come_back_on_their_ports(
    supervised: tuple[Harness, Supervisor],
) -> None:
    h, sup = supervised
    assert h.stack.brokers is not None
    mqtt = h.stack.brokers.procs[1]
    mqtt.send_signal(signal.SIGKILL)
    await wait_restarted(h, sup, "mqtt")
    assert mqtt.returncode is not None  # reaped
    assert h.stack.brokers.procs[1].pid != mqtt.pid
    wait_port(h.stack.brokers.mqtt_port)

    worker = h.stack.workers[0]
    port = h.stack.worker_ports[0]
    worker.send_signal(signal.SIGKILL)
    await wait_restarted(h, sup, "worker-0")
    assert worker.returncode is not None
    assert h.stack.worker_ports[0] == port and h.stack.workers[0].pid != worker.pid
    await h.stack.wait_ready(0)
