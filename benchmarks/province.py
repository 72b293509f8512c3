"""A province on one Kafka cluster: every county's county-wide red warning at once, on 1 and on 2 workers.

Setup (not timed): generate `--counties` counties (distinct county codes and centres, ids prefixed per
county), import them as one directory, start the embedded brokers (Tansu, Mosquitto) and the database
(SQLite by default, `--db-url URL|local` for PostgreSQL). Then, per round and interleaved, the same load
on one worker and on two (`warnengine worker`, role `all`, as `up --workers N` starts them): one red
rainstorm warning per county produced at once (JSON feed, the county's code as its area), done when every
version is resolved (its people planned and written) and every terminal's command has left `pending`;
then a Cancel per county ends the round (not measured). No terminal farm: commands go to the broker, so
the cost measured is the engine's (resolve, plan, sign, publish, record), not a simulated ack storm. Feed
messages are keyed by county, village tasks by village, so counties spread over the workers' partitions.

Measured per round: wall time, and the CPU seconds the worker processes used (from /proc): per terminal
and per resident, per worker. The limit, in the same run with the brokers up: the machine's own speed-up
for CPU-bound Python in two processes against one (the same loop) — what two workers could at best get
here. ratio = our speed-up ÷ the machine's. Projection for N workers: N × one worker's rate, while the
database keeps up (docs/operations.md, sizing).

    .venv/bin/python benchmarks/province.py                       # 12 counties × 150 villages
    .venv/bin/python benchmarks/province.py --villages 830 --households-min 2 --households-max 4 --rounds 2
                                                  # 12 × 830 villages: ~20,000 terminals
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County, generate_county, write_county
from warnengine.embedded.stack import Stack
from warnengine.model.warning import chain_id
from warnengine.settings import Settings
from warnengine.wire import topics

SENDER = "bench.province.example.cn"
TICK = os.sysconf("SC_CLK_TCK")


def county(n: int, villages: int, households: tuple[int, int]) -> County:
    """County `n` of the province: its own code and centre, ids prefixed so they stay unique."""
    code = f"41{n + 1:02d}26"
    c = generate_county(
        seed=n + 1,
        villages=villages,
        townships=max(3, min(13, villages // 10)),
        households_per_group=households,
        county_code=code,
        center=(112.0 + 0.9 * (n % 4), 33.0 + 0.9 * (n // 4)),
    )
    p = f"c{n + 1:02d}"

    def pre(x: str | None) -> str | None:
        return x and p + x

    return County(
        cells=c.cells,
        households=[h.model_copy(update={"household_id": p + h.household_id}) for h in c.households],
        people=[
            x.model_copy(update={"person_id": p + x.person_id, "household_id": pre(x.household_id)})
            for x in c.people
        ],
        devices=[d.model_copy(update={"responsible_id": pre(d.responsible_id)}) for d in c.devices],
        points=[
            q.model_copy(
                update={
                    "lead_person_id": pre(q.lead_person_id),
                    "households": tuple(p + h for h in q.households),
                }
            )
            for q in c.points
        ],
    )


def province(counties: list[County]) -> County:
    return County(
        cells=[x for c in counties for x in c.cells],
        households=[x for c in counties for x in c.households],
        people=[x for c in counties for x in c.people],
        devices=[x for c in counties for x in c.devices],
        points=[x for c in counties for x in c.points],
    )


def warning(code: str, identifier: str, cancels: str | None = None) -> bytes:
    sent = datetime.now(UTC)
    cancel = {"msg_type": "Cancel", "references": [cancels]} if cancels else {}
    return json.dumps(
        {
            "sender": SENDER,
            "identifier": identifier,
            "sent": sent.isoformat(),
            **cancel,
            "hazard": "meteo",
            "severity": "red",
            "event": "暴雨",
            "headline": "暴雨红色预警",
            "description": "预计未来3小时全县降雨量将达100毫米以上。",
            "expires": (sent + timedelta(hours=6)).isoformat(),
            "areas": [{"description": "全县", "codes": [f"{code}000000"]}],
        },
        ensure_ascii=False,
    ).encode()


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return total / TICK


async def cancelled(store: Store, ids: list[str], deadline: float) -> None:
    w = t.warnings.c
    while True:
        async with store.engine.connect() as conn:
            n = await conn.scalar(
                select(func.count(func.distinct(w.warning_id))).where(
                    w.warning_id.in_(ids), w.msg_type == "Cancel", w.state == "resolved"
                )
            )
        if n == len(ids):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n}/{len(ids)} cancels resolved")
        await asyncio.sleep(0.1)


async def done(store: Store, ids: list[str], deadline: float) -> None:
    """Every version resolved and no terminal command still pending."""
    d, w = t.deliveries.c, t.warnings.c
    while True:
        async with store.engine.connect() as conn:
            resolved = await conn.scalar(
                select(func.count()).where(w.warning_id.in_(ids), w.state == "resolved")
            )
            pending = await conn.scalar(
                select(func.count()).where(
                    d.warning_id.in_(ids), d.channel == "loudspeaker", d.state == "pending"
                )
            )
        if resolved == len(ids) and pending == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{resolved}/{len(ids)} resolved, {pending} commands pending")
        await asyncio.sleep(0.05)


def spin(n: int) -> int:
    x = 0
    for i in range(n):
        x = (x * 31 + i) % 1_000_003
    return x


def machine_speedup(n: int = 6_000_000) -> float:
    """Two processes against one on the same CPU-bound loop: this machine's parallelism for workers."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(spin, [1000, 1000])  # started
        t0 = time.perf_counter()
        pool.map(spin, [n])
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        pool.map(spin, [n, n])
        two = time.perf_counter() - t0
    return 2 * one / two


class Bench:
    def __init__(self, stack: Stack, store: Store, codes: list[str]) -> None:
        self.stack, self.store, self.codes = stack, store, codes
        self.producer: AIOKafkaProducer | None = None

    async def workers(self, n: int) -> list[int]:
        for k in list(self.stack.workers):  # a clean leave: the consumer group rebalances at once
            proc = self.stack.workers.pop(k)
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:  # busy past its shutdown: the next round must not wait
                proc.kill()
                await asyncio.to_thread(proc.wait)
        for k in range(n):
            self.stack.start_worker(k, "all")
        for k in range(n):
            await self.stack.wait_ready(k)
        return [p.pid for p in self.stack.workers.values()]

    async def round(self, pids: list[int], tag: str) -> tuple[float, float]:
        assert self.producer is not None
        ids, sends, names = [], [], []
        for code in self.codes:
            identifier = f"PROV-{tag}-{code}-{time.time_ns()}"
            ids.append(chain_id(SENDER, identifier))
            names.append(identifier)
            sends.append(warning(code, identifier))
        cpu0, t0 = cpu_s(pids), time.perf_counter()
        await self.send(sends)
        await done(self.store, ids, time.monotonic() + 900)
        wall, cpu = time.perf_counter() - t0, cpu_s(pids) - cpu0
        # Over before the next round (the Cancel stops the ladder: no fallback, resend or visit left).
        await self.send([warning(c, f"{n}-x", cancels=n) for c, n in zip(self.codes, names, strict=True)])
        await cancelled(self.store, ids, time.monotonic() + 900)
        await asyncio.sleep(2.0)  # the stop commands sent; with no terminal to answer, their resends
        return wall, cpu  # come 90 s later, mostly between rounds (a worker restart takes ~15 s)

    async def send(self, bodies: list[bytes]) -> None:
        assert self.producer is not None
        for body, code in zip(bodies, self.codes, strict=True):
            await self.producer.send(topics.feed_topic("meteo"), body, key=code.encode())
        await self.producer.flush()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="warnengine-province-"))
    hh = (args.households_min, args.households_max)
    counties = [county(n, args.villages, hh) for n in range(args.counties)]
    whole = province(counties)
    write_county(counties[0], work / "county")  # the settings want a directory; the province is imported
    settings = Settings(data_dir=work / "var", county_dir=work / "county", web_port=0)
    if args.db_url:
        settings = settings.model_copy(update={"database_url": args.db_url})
    stack = Stack(settings)
    bench: Bench | None = None
    try:
        await stack.prepare(import_county=False)
        store = Store(connect(stack.settings.db_url()), SystemClock())
        await store.import_directory(**whole.records())
        bench = Bench(stack, store, [c.cells[0].code[:6] for c in counties])
        bench.producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap(), linger_ms=0)
        await bench.producer.start()
        results: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for r in range(args.rounds + 1):  # round 0 warms both up (caches, connections, XSD)
            for n in (1, 2):
                pids = await bench.workers(n)
                wall, cpu = await bench.round(pids, f"{r}-{n}")
                if r:
                    results[n].append((wall, cpu))
                print(f"round {r} workers {n}: {wall:.2f} s, {cpu:.2f} CPU s", flush=True)
        machine = statistics.median(machine_speedup() for _ in range(3))
    finally:
        if bench and bench.producer:
            await bench.producer.stop()
        if bench:
            await bench.store.close()
        stack.stop()
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    return summary(whole, results, machine, args)


def summary(
    whole: County, results: dict[int, list[tuple[float, float]]], machine: float, args: argparse.Namespace
) -> dict[str, Any]:
    terminals = len(whole.devices)
    residents = sum(1 for p in whole.people if p.role.value == "resident")
    wall = {n: statistics.median(w for w, _ in rs) for n, rs in results.items()}
    cpu = {n: statistics.median(c for _, c in rs) for n, rs in results.items()}
    speedup = wall[1] / wall[2]
    rate = (residents + terminals) / wall[1]  # targets (residents + terminals) per second, one worker
    return {
        "counties": args.counties,
        "villages": sum(1 for c in whole.cells if c.level == "village"),
        "terminals": terminals,
        "residents": residents,
        "rounds": args.rounds,
        "db": "postgresql" if args.db_url else "sqlite",
        "wall_s_1_worker": round(wall[1], 3),
        "wall_s_2_workers": round(wall[2], 3),
        "cpu_s_1_worker": round(cpu[1], 3),
        "cpu_s_2_workers": round(cpu[2], 3),
        "cpu_us_per_terminal_and_resident": round(cpu[1] / (terminals + residents) * 1e6, 2),
        "speedup": round(speedup, 3),
        "machine_speedup": round(machine, 3),
        "ratio": round(speedup / machine, 3),
        "targets_per_s_1_worker": round(rate),
        "projection_targets_per_s": {n: round(rate * n) for n in (2, 4, 8)},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--counties", type=int, default=12)
    p.add_argument("--villages", type=int, default=150, help="per county")
    p.add_argument("--households-min", type=int, default=8, help="per village group")
    p.add_argument("--households-max", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--db-url", default="", help="PostgreSQL URL, or 'local' for a throwaway cluster (default: SQLite)"
    )
    args = p.parse_args()
    # The workers read config/ (policy, channels, trust) relative to the working directory: from anywhere
    # else they fall back to "loudspeakers and grid heads only" and the round measures nothing real.
    os.chdir(Path(__file__).resolve().parents[1])
    with contextlib.ExitStack() as servers, contextlib.suppress(KeyboardInterrupt):
        if args.db_url == "local":  # a throwaway cluster, as the tests start it
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.servers import postgres_server

            args.db_url = servers.enter_context(postgres_server())
        print(json.dumps(asyncio.run(main(args))))
