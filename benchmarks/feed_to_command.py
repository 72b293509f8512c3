"""Feed → last terminal command latency for a county-wide warning, against the raw broker round trip.

Runs the embedded stack (Tansu, Mosquitto or amqtt, SQLite), one worker process and the simulated terminal
farm, then issues `--runs` county-wide warnings one after another. Prints p50/p99 of the time from the
feed message's produce to the last terminal's command, per-terminal latencies, the raw Kafka
produce→consume round trip (p50/p99) measured in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import shapely
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from shapely.geometry import shape

from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db.store import Store
from warnengine.directory import generate_county, write_county
from warnengine.embedded.demo import rainstorm_cap
from warnengine.embedded.stack import Stack
from warnengine.embedded.terminals import start_farm
from warnengine.model.warning import chain_id
from warnengine.settings import Settings
from warnengine.wire import topics


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def raw_round_trip(bootstrap: str, samples: int = 300) -> list[float]:
    """Produce one message, wait until a subscribed consumer has it: the broker's floor for one hop."""
    topic = f"bench-rtt-{time.time_ns()}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    await producer.send_and_wait(topic, b"warmup")
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=5
    )
    await consumer.start()
    await consumer.seek_to_end()
    out = []
    try:
        for i in range(samples):
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, str(i).encode())
            while True:
                got = await consumer.getmany(timeout_ms=1000)
                if any(m.value == str(i).encode() for batch in got.values() for m in batch):
                    break
            out.append(time.perf_counter() - t0)
    finally:
        await consumer.stop()
        await producer.stop()
    return out


async def resolved(store: Store, warning_id: str, version: int, deadline: float) -> None:
    while await store.warning_state(warning_id, version) != "resolved":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{warning_id} not resolved")
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="warnengine-bench-"))
    county = generate_county(
        seed=args.seed,
        villages=args.villages,
        townships=max(3, min(13, args.villages // 10)),
        households_per_group=(2, 4),
    )
    write_county(county, work / "county")
    ring = [
        (x, y)
        for x, y in shapely.union_all([shape(c.geometry) for c in county.cells if c.level == "village"])
        .envelope.buffer(0.01)
        .exterior.coords
    ]
    devices = {d.device_id for d in county.devices}
    stack = Stack(
        Settings(
            data_dir=work / "var",
            county_dir=work / "county",
            web_port=0,
            embedded_kafka_port=0,
            embedded_mqtt_port=0,
        )
    )
    farm_task = None
    store: Store | None = None
    try:
        await stack.prepare()
        s = stack.settings
        store = Store(connect(s.db_url()), SystemClock())
        farm = await start_farm(s, (await store.device_villages()).items(), SystemClock())
        farm_task = asyncio.create_task(farm.run())
        stack.start_worker(0)
        await stack.wait_ready(0)
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap(), linger_ms=0)
        await producer.start()
        last: list[float] = []
        per_terminal: list[float] = []
        for run in range(args.runs + 1):  # run 0 warms up (XSD load, caches, connections)
            identifier = f"BENCH-{time.time_ns()}"
            wid = chain_id("demo.meteo.example.cn", identifier)
            payload = rainstorm_cap(ring, identifier, datetime.now(UTC))
            t0 = time.time()
            await producer.send_and_wait(topics.feed_topic("meteo"), payload)
            deadline = time.monotonic() + 300
            while len(farm.arrivals.get(wid, {})) < len(devices):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"run {run}: {len(farm.arrivals.get(wid, {}))}/{len(devices)} terminals"
                    )
                await asyncio.sleep(0.002)
            if run:
                arrivals = [t - t0 for t in farm.arrivals[wid].values()]
                last.append(max(arrivals))
                per_terminal.extend(arrivals)
            # A county gets one warning at a time: the next run starts once this one's people are
            # planned too (else it measures queueing behind the previous plan) and its acks settled.
            await resolved(store, wid, 1, deadline)
            await asyncio.sleep(1.0)
        await producer.stop()
        rtt = await raw_round_trip(s.kafka_bootstrap())
    finally:
        if farm_task:
            farm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await farm_task
        if store is not None:
            await store.close()
        stack.stop()
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    rtt_p50 = statistics.median(rtt)
    return {
        "villages": args.villages,
        "terminals": len(devices),
        "runs": args.runs,
        "mqtt_broker": stack.brokers.mqtt_kind if stack.brokers else "external",
        "last_command_s_p50": round(statistics.median(last), 4),
        "last_command_s_p99": round(pct(last, 99), 4),
        "terminal_command_s_p50": round(statistics.median(per_terminal), 4),
        "terminal_command_s_p99": round(pct(per_terminal, 99), 4),
        "raw_kafka_rtt_s_p50": round(rtt_p50, 5),
        "raw_kafka_rtt_s_p99": round(pct(rtt, 99), 5),
        "ratio_last_command_p50_to_raw_rtt_p50": round(statistics.median(last) / rtt_p50, 1),
        "per_terminal_s_per_raw_rtt": round(statistics.median(last) / len(devices) / rtt_p50, 3),
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--villages", type=int, default=150)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--seed", type=int, default=1)
    print(json.dumps(asyncio.run(main(p.parse_args()))))
