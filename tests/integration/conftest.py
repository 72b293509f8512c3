"""End-to-end fixtures: the real Tansu broker, a real MQTT broker (Mosquitto, else amqtt), SQLite, worker
processes started exactly as `warnengine up` starts them, and the simulated terminal farm in-process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from warnengine.clock import SystemClock, clock_for
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County, generate_county, write_county
from warnengine.embedded.stack import Stack
from warnengine.embedded.terminals import start_farm
from warnengine.settings import Settings
from warnengine.speaker.farm import TerminalFarm
from warnengine.wire import topics


class Harness:
    def __init__(self, stack: Stack, store: Store) -> None:
        self.stack = stack
        self.store = store
        self.farm: TerminalFarm | None = None
        self._farm_task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    async def start_farm(self, offline: tuple[str, ...] = ()) -> TerminalFarm:
        devices = await self.store.device_villages()
        clock = clock_for(self.settings.clock_speed, self.settings.clock_epoch)  # the stack's engine clock
        self.farm = await start_farm(self.settings, devices.items(), clock, offline=offline)
        self._farm_task = asyncio.create_task(self.farm.run())
        return self.farm

    async def start_worker(self, n: int = 0) -> None:
        self.stack.start_worker(n)
        await self.stack.wait_ready(n)

    async def send(self, source: str, payload: bytes) -> None:
        await self.send_raw(topics.feed_topic(source), payload)

    async def send_raw(self, topic: str, payload: bytes) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap())
            await self._producer.start()
        await self._producer.send_and_wait(topic, payload)

    async def deliveries(self, warning_id: str, channel: str | None = "loudspeaker") -> list[dict[str, Any]]:
        """The warning's deliveries on `channel` (None: every channel)."""
        d = t.deliveries.c
        query = select(t.deliveries).where(d.warning_id == warning_id)
        if channel is not None:
            query = query.where(d.channel == channel)
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(query)
            return [dict(r._mapping) for r in rows]

    async def wait_for(self, check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                logs = "\n".join(
                    self.stack.worker_log(n).read_text()[-3000:] for n in self.stack.worker_ports
                )
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n--- worker logs ---\n{logs}"
                )
            await asyncio.sleep(0.2)

    async def wait_all_played(self, warning_id: str, devices: set[str], timeout: float = 60) -> None:
        """Until every one of `devices` has exactly one delivery of the warning, and it is played."""

        async def all_played() -> bool:
            rows = await self.deliveries(warning_id)
            return {r["recipient"] for r in rows} == devices and all(r["state"] == "played" for r in rows)

        await self.wait_for(all_played, timeout, f"every terminal of {warning_id} played")

    async def close(self) -> None:
        if self._producer:
            await self._producer.stop()
        if self._farm_task:
            self._farm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._farm_task
        await self.store.close()


def stack_settings(data_dir: Path, county_dir: Path, **over: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "county_dir": county_dir,
        "resend_after_s": 3.0,
        "reconcile_interval_s": 1.0,
        "reconcile_grace_s": 2.0,
        "topic_partitions": 4,
        "web_port": 0,
        "embedded_kafka_port": 0,
        "embedded_mqtt_port": 0,
    }
    base.update(over)
    return Settings(**base)


@contextlib.asynccontextmanager
async def running_stack(data_dir: Path, county_dir: Path, **over: Any) -> AsyncIterator[Harness]:
    """Brokers and database prepared as `warnengine up` prepares them; workers are started by the test."""
    stack = Stack(stack_settings(data_dir, county_dir, **over))
    await stack.prepare()
    h = Harness(stack, Store(connect(stack.settings.db_url()), SystemClock()))
    try:
        yield h
    finally:
        await h.close()
        stack.stop()


async def fresh_pg_database(server_url: str) -> str:
    """A new, empty database on the test PostgreSQL server; returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, small_county_dir: Path
) -> AsyncIterator[Harness]:
    """The pipeline on each database the product supports: embedded SQLite and PostgreSQL by URL."""
    over: dict[str, Any] = {}
    if request.param == "postgresql":
        over["database_url"] = await fresh_pg_database(request.getfixturevalue("pg_url"))
    async with running_stack(tmp_path / "var", small_county_dir, **over) as h:
        yield h


@pytest.fixture(scope="session")
def wide_county(tmp_path_factory: pytest.TempPathFactory) -> tuple[County, Path]:
    """Many villages, one household each: a county-wide fan-out lasts long enough to be interrupted."""
    county = generate_county(
        seed=11,
        townships=10,
        villages=500,
        groups_per_village=(1, 1),
        households_per_group=(1, 1),
        orgs_per_township=0,
    )
    d = tmp_path_factory.mktemp("wide")
    write_county(county, d)
    return county, d
