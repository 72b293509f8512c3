"""Earthquake early warning for a whole county → every terminal's `playing` ack, against the raw fan-out.

Runs the embedded stack (Tansu, Mosquitto, SQLite), the worker(s) as `warnengine up` starts them
(`--roles all` one worker of every role; `--roles dispatch,acks` one of each) and the simulated terminal
farm (every terminal verifies the Ed25519 signature, then acks `received`, `playing`, `played` on its own
topic). Then `--runs` earthquake early warnings (`kind: eew` on the `earthquake` feed topic, a shallow
M6.5 whose intensity-VI circle covers the county), one after another, each a new event.

Per run: `feed_to_last_playing` = the feed produce → the last terminal's `playing` ack, seen by a separate
MQTT client subscribed to every ack topic; `feed_to_first_playing` likewise; `all_played`: after every run
the engine's record has each terminal's delivery `played` (acks applied by the pipeline), checked too.

The limit, measured in the same run on the same brokers once the warnings are done, `--runs` times: the
same exchange without the engine — produce one message on a Kafka topic; a consumer (the engine's long-poll
setting) takes it and publishes one QoS 1 command-sized message on the county's group topic; a responder
subscribed there answers for every terminal with `received`, `playing` and `played` ack-sized QoS 1 messages
on that terminal's ack topic (the farm's acks); a collector waits for the last `playing` while a second
subscriber reads every ack too (the engine's ack bridge; in the real run the watch is the other). No
database, no signature, no verification: ratio = our p99 ÷ raw p99 (goal: p99 ≤ 1.0 s and ratio ≤ 1.5).

The farm runs every terminal in this process; it verifies a group command's identical bytes once for all
of them (terminals verify in parallel, each on its own CPU), each terminal still checks expiry, nonce, cell.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import paho.mqtt.client as paho
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County, generate_county, write_county
from warnengine.embedded.stack import Stack
from warnengine.embedded.terminals import start_farm
from warnengine.model import command_id
from warnengine.model.warning import chain_id
from warnengine.settings import Settings
from warnengine.speaker.farm import TerminalFarm
from warnengine.transport.mqtt import set_no_delay
from warnengine.wire import topics
from warnengine.wire.loudspeaker import device_topic, group_topic, parse_topic

ACK = b'{"cmd_id":"w1:eew\\u001fEEW-20260701000000","state":"playing","at":1782864000.123}'


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


class PlayingWatch:
    """Every terminal's first `playing` ack per command id, as the engine's side of the broker sees it:
    a paho client of its own, timed in its network thread (not when the busy event loop gets to it)."""

    def __init__(self, port: int) -> None:
        self.playing: dict[str, dict[str, float]] = {}  # command id → device → wall time
        self.other: dict[str, int] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = _client("bench-eew-acks", port)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_a: self._subscribed.set()
        self._client.loop_start()
        self._client.subscribe("warn/v1/+/+/+/+/ack", 1)
        if not self._subscribed.wait(10):
            raise TimeoutError("watch: no SUBACK")

    def _on_message(self, _c: paho.Client, _u: object, m: paho.MQTTMessage) -> None:
        at = time.time()
        where = parse_topic(m.topic)
        if where is None:
            return
        ack = json.loads(m.payload)
        state = str(ack.get("state"))
        with self._lock:
            if state == "playing":
                self.playing.setdefault(str(ack.get("cmd_id")), {}).setdefault(where[1], at)
            elif state not in ("received", "played"):
                key = f"{state}:{ack.get('reason')}"
                self.other[key] = self.other.get(key, 0) + 1

    def count(self, cmd: str) -> int:
        with self._lock:
            return len(self.playing.get(cmd, {}))

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def eew(event_id: str, lat: float, lon: float) -> bytes:
    return json.dumps(
        {
            "kind": "eew",
            "event_id": event_id,
            "magnitude": 6.5,
            "depth_km": 10,
            "lat": lat,
            "lon": lon,
            "origin_time": datetime.now(UTC).isoformat(),
            "epicentre": "示范县",
            "intensity_radius_km": {"VI": 400.0, "VIII": 30.0},
        },
        ensure_ascii=False,
    ).encode()


@dataclass
class Bench:
    county: County
    producer: AIOKafkaProducer
    store: Store
    watch: PlayingWatch
    farm: TerminalFarm
    runs: list[dict[str, float]] = field(default_factory=list)
    all_played: bool = True


async def played_in_record(store: Store, warning_id: str, n: int, timeout: float = 120) -> bool:
    d = t.deliveries.c
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(d.state, func.count())
                .where(d.warning_id == warning_id, d.channel == "loudspeaker")
                .group_by(d.state)
            )
            states = {r[0]: int(r[1]) for r in rows}
        if states.get("played") == n and sum(states.values()) == n:
            return True
        await asyncio.sleep(0.05)
    print(f"{warning_id}: engine record {states}, want {n} played", file=sys.stderr)
    return False


async def one_warning(bench: Bench, run: int) -> None:
    county = bench.county
    n = len(county.devices)
    event = f"EEW-{time.time_ns()}"
    warning_id = chain_id("eew", event)
    cmd = command_id(warning_id, 1)
    lat, lon = fmean(h.lat for h in county.households), fmean(h.lon for h in county.households)
    t0 = time.time()
    await bench.producer.send_and_wait(topics.feed_topic("earthquake"), eew(event, lat, lon))
    deadline = time.monotonic() + 300
    while bench.watch.count(cmd) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run}: {bench.watch.count(cmd)}/{n} playing")
        await asyncio.sleep(0.002)
    times = bench.watch.playing[cmd].values()
    at_farm = min(bench.farm.arrivals[warning_id].values())
    ok = await played_in_record(bench.store, warning_id, n)
    if run == 0:
        return
    bench.all_played &= ok
    bench.runs.append(
        {
            "feed_to_last_playing": max(times) - t0,
            "feed_to_first_playing": min(times) - t0,
            # The group command taken by the farm's event loop (which also runs 1,662 terminals' checks).
            "feed_to_command_at_farm": at_farm - t0,
        }
    )
    await asyncio.sleep(2.0)  # the people's plan and the acks settle: runs do not overlap


def _client(name: str, port: int) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{time.time_ns()}", protocol=paho.MQTTv5)
    c.max_inflight_messages_set(1000)  # as the engine's AsyncMqtt
    c.connect("127.0.0.1", port, keepalive=15)
    set_no_delay(c)
    return c


async def raw_fanout(bootstrap: str, port: int, county: County, fetch_wait_ms: int) -> float:
    """Kafka produce → consume → one group publish → every terminal's received+playing → the last playing."""
    n = len(county.devices)
    county_code = next(c.code for c in county.cells if c.level.value == "county")
    # The contract's topics under a prefix of their own: neither the farm nor the engine's ack bridge
    # (still running) sees the raw exchange.
    tag = f"bench/{time.time_ns()}/"
    acks = [tag + device_topic(d.cell_code, d.device_id, "ack") for d in county.devices]
    group = tag + group_topic(county_code)
    done = threading.Event()
    ready = [threading.Event(), threading.Event(), threading.Event()]
    count = 0
    lock = threading.Lock()

    def answer(c: paho.Client, _u: object, _m: paho.MQTTMessage) -> None:
        for topic in acks:  # as many acks as the terminals send, in their order
            c.publish(topic, ACK.replace(b"playing", b"received"), 1)
            c.publish(topic, ACK, 1)
            c.publish(topic, ACK.replace(b"playing", b"played"), 1)

    def collect(_c: paho.Client, _u: object, m: paho.MQTTMessage) -> None:
        nonlocal count
        if b"playing" in m.payload:
            with lock:
                count += 1
                if count == n:
                    done.set()

    responder, collector, engine = (
        _client("raw-farm", port),
        _client("raw-acks", port),
        _client("raw-eng", port),
    )
    # The engine reads every ack, and so does the benchmark's watch: two subscribers, as in the real run.
    mirror = _client("raw-ack-bridge", port)
    responder.on_message, collector.on_message = answer, collect
    responder.on_subscribe = lambda *_a: ready[0].set()
    collector.on_subscribe = lambda *_a: ready[1].set()
    mirror.on_subscribe = lambda *_a: ready[2].set()
    clients = (responder, collector, engine, mirror)
    for c in clients:
        c.loop_start()
    topic = f"bench-raw-eew-{time.time_ns()}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    await producer.send_and_wait(topic, b"warmup")
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=fetch_wait_ms
    )
    await consumer.start()
    await consumer.seek_to_end()
    try:
        responder.subscribe(group, 1)
        collector.subscribe(tag + "warn/v1/+/+/+/+/ack", 1)
        mirror.subscribe(tag + "warn/v1/+/+/+/+/ack", 1)
        if not all([await asyncio.to_thread(e.wait, 10) for e in ready]):
            raise TimeoutError("raw: no SUBACK")
        await asyncio.sleep(0.5)
        t0 = time.perf_counter()
        await producer.send_and_wait(topic, b"go")
        await consumer.getone()
        engine.publish(group, b"x" * 600, 1)
        if not await asyncio.to_thread(done.wait, 120):
            raise TimeoutError(f"raw: {count}/{n} playing")
        return time.perf_counter() - t0
    finally:
        await consumer.stop()
        await producer.stop()
        for c in clients:
            c.disconnect()
            c.loop_stop()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="warnengine-bench-eew-"))
    county = generate_county(
        seed=args.seed,
        villages=args.villages,
        townships=13,
        groups_per_village=(1, 2),
        households_per_group=(1, 2),
    )
    write_county(county, work / "county")
    roles = [r.strip() for r in args.roles.split(",")]
    stack = Stack(
        Settings(
            data_dir=work / "var",
            county_dir=work / "county",
            web_port=0,
            embedded_kafka_port=0,
            embedded_mqtt_port=0,
        )
    )
    tasks: list[asyncio.Task[None]] = []
    load0 = os.getloadavg()
    try:
        await stack.prepare()
        s = stack.settings
        store = Store(connect(s.db_url()), SystemClock())
        farm = await start_farm(s, (await store.device_villages()).items(), SystemClock())
        farm.report_playing = True
        _, port = s.mqtt_host_port()
        watch = PlayingWatch(port)
        tasks = [asyncio.create_task(farm.run())]
        for n, role in enumerate(roles):
            stack.start_worker(n, role)
        for n in range(len(roles)):
            await stack.wait_ready(n)
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap(), linger_ms=0)
        await producer.start()
        bench = Bench(county, producer, store, watch, farm)
        for run in range(args.runs + 1):  # run 0 warms up (caches, connections, the first signing)
            await one_warning(bench, run)
        await producer.stop()
        await store.close()
        watch.stop()
        raws = [
            await raw_fanout(s.kafka_bootstrap(), port, county, s.fetch_max_wait_ms) for _ in range(args.runs)
        ]
        stats = farm.stats()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stack.stop()
        if args.keep:
            print(f"kept {work} (worker logs in var/logs)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    last = [r["feed_to_last_playing"] for r in bench.runs]
    first = [r["feed_to_first_playing"] for r in bench.runs]
    at_farm = [r["feed_to_command_at_farm"] for r in bench.runs]
    return {
        "terminals": len(county.devices),
        "villages": args.villages,
        "runs": args.runs,
        "roles": roles,
        "mqtt_broker": stack.brokers.mqtt_kind if stack.brokers else "external",
        "feed_to_last_playing_s_p50": round(statistics.median(last), 4),
        "feed_to_last_playing_s_p99": round(pct(last, 99), 4),
        "feed_to_last_playing_s_runs": [round(x, 3) for x in last],
        "feed_to_first_playing_s_p50": round(statistics.median(first), 4),
        "feed_to_command_at_farm_s_p50": round(statistics.median(at_farm), 4),
        "raw_p50_s": round(statistics.median(raws), 4),
        "raw_p99_s": round(pct(raws, 99), 4),
        "raw_s_runs": [round(x, 3) for x in raws],
        "ratio": round(pct(last, 99) / pct(raws, 99), 2),
        "all_played": bench.all_played,
        "farm": stats,
        "other_acks": watch.other,
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--villages", type=int, default=830, help="830 villages give 1,600+ terminals")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--roles", default="all", help="the workers' roles: all, or dispatch,acks")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    p.add_argument("--json", action="store_true", help="(the last line is always one JSON object)")
    result = asyncio.run(main(p.parse_args()))
    print(
        f"feed → last playing p50 {result['feed_to_last_playing_s_p50']} s, p99 "
        f"{result['feed_to_last_playing_s_p99']} s; raw p99 {result['raw_p99_s']} s; ratio {result['ratio']}",
        file=sys.stderr,
    )
    print(json.dumps(result, ensure_ascii=False))
