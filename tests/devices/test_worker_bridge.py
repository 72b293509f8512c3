"""The whole loop with a real worker: the reference terminal verifies and plays an engine-signed warning,
and the worker's device bridge records it online, its play result, and its goodbye."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.embedded.stack import Stack
from warnengine.settings import Settings
from warnengine.signing import Verifier, load_public_keys, public_path
from warnengine.speaker.link import LinkConfig
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import RecordingSink
from warnengine.wire import topics


def flood_warning(identifier: str, village: str) -> bytes:
    now = datetime.now(UTC)
    body = {
        "msg_type": "Alert",
        "sender": "flood.example.cn",
        "identifier": identifier,
        "sent": now.isoformat(),
        "hazard": "flood",
        "severity": "红",
        "event": "山洪",
        "headline": "山洪红色预警",
        "expires": (now + timedelta(hours=1)).isoformat(),
        "areas": [{"description": "村", "codes": [village]}],
    }
    return json.dumps(body, ensure_ascii=False).encode()


async def until(check: Callable[[], Awaitable[bool]], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            tail = (await asyncio.to_thread(log.read_text))[-3000:]
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        await asyncio.sleep(0.1)


async def test_reference_terminal_with_a_real_worker(
    tmp_path: Path, small_county_dir: Path, small_county: County
) -> None:
    settings = Settings(
        data_dir=tmp_path / "var",
        county_dir=small_county_dir,
        topic_partitions=2,
        web_port=0,
        embedded_kafka_port=0,  # any free ports: other stacks may be running on this machine
        embedded_mqtt_port=0,
        terminal_sweep_interval_s=0.5,
    )
    stack = Stack(settings)
    await stack.prepare()
    s = stack.settings
    store = Store(connect(s.db_url()), SystemClock())
    device = small_county.devices[0]
    terminal: ReferenceTerminal | None = None
    try:
        stack.start_worker(0)
        await stack.wait_ready(0)
        host, port = s.mqtt_host_port()
        sink = RecordingSink()
        terminal = ReferenceTerminal(
            TerminalConfig(
                device.device_id, device.cell_code, LinkConfig(host, port, f"spk-{device.device_id}")
            ),
            Verifier(load_public_keys([public_path(s.key_file())])),
            sink,
            SystemClock(),
        )
        await terminal.start()

        async def row() -> Any:
            async with store.engine.connect() as conn:
                q = select(t.devices).where(t.devices.c.device_id == device.device_id)
                return (await conn.execute(q)).one()

        log = stack.worker_log(0)
        await until(
            lambda: _has(row, online=True, firmware="warnengine-ref/1"), "online in the registry", log
        )

        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap())
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.feed_topic("flood"), flood_warning(f"B-{time.time_ns()}", device.cell_code)
            )
        finally:
            await producer.stop()
        await until(lambda: _has(row, last_result="played"), "the play result in the registry", log)
        (cmd_id,) = set(sink.ended())
        assert sink.ended() == [cmd_id] * 3  # a red warning plays three times, once through
        assert not [a for a in terminal.acks if a["state"] == "rejected"]  # the engine's signature verified

        await terminal.stop()
        terminal = None
        await until(lambda: _has(row, online=False, offline_reason="shutdown"), "the goodbye", log)
    finally:
        if terminal:
            await terminal.stop()
        await store.close()
        stack.stop()


async def _has(row: Callable[[], Awaitable[Any]], **want: object) -> bool:
    r = await row()
    return all(getattr(r, k) == v for k, v in want.items())
