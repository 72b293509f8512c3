"""Upward reports (上报) on a county-wide red warning: how long the leader's sweep takes when reports are due
(every township and the county: count the numbers, plan the deliveries, record them) and when none is (the
sweep that runs every `escalate_interval_s`, 15 s, between the due minutes).

A generated county (default 13 townships, 150 villages, 4–8 groups of 8–16 households: ~9,000 households) on
SQLite in a temporary folder, the warning planned by the real plan stage and resolved; the engine clock is
moved by hand to 10 minutes (reports due), then the sweep is run again (none due) `--rounds` times.
Prints the times; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory.generate import generate_county
from warnengine.escalate.upward import report_upward
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.policy import load_policy
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory

POLICY = load_policy(Path(__file__).resolve().parents[1] / "config" / "policy.yaml")


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    county = generate_county(seed=1, townships=args.townships, villages=args.villages)
    engine = connect(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await migrate(engine)
    clock = ManualClock(1_782_864_000.0)
    store = Store(engine, clock)
    try:
        await store.import_directory(
            county.cells, county.households, county.people, county.devices, county.points
        )
        directory = await Directory.load(store)
        code = next(c.code for c in county.cells if c.level.value == "county")
        sent = datetime.fromtimestamp(clock.now(), UTC)
        w = HazardWarning(
            warning_id="w-00000000000000be", version=1, sender="bench", identifier="bench", sent=sent,
            msg_type=MsgType.ALERT, status=Status.ACTUAL, hazard=Hazard.FLOOD, severity=Severity.RED,
            event="山洪", headline="山洪红色预警", expires=sent + timedelta(hours=6),
            areas=[Area(codes=[code])],
        )  # fmt: skip
        await store.save_warning(w)
        await plan_deliveries(w, directory, POLICY, store, 3600)
        households = len(await store.unreached_households(w.warning_id))
        emitted: list[str] = []

        async def emit(_w: str, _v: int, cell: str) -> None:
            emitted.append(cell)

        tz = ZoneInfo("Asia/Shanghai")
        clock.advance(10 * 60)
        t0 = time.perf_counter()
        due = await report_upward(store, directory, POLICY, emit, tz)
        first = time.perf_counter() - t0
        idle = []
        for _ in range(args.rounds):
            clock.advance(15)
            t0 = time.perf_counter()
            again = await report_upward(store, directory, POLICY, emit, tz)
            idle.append(time.perf_counter() - t0)
            assert again == [], "a report went out twice"
        return {
            "households": households,
            "reports": len(due),
            "due_sweep_s": round(first, 3),
            "idle_sweep_s": round(statistics.median(idle), 3),
            "rounds": args.rounds,
        }
    finally:
        await store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--townships", type=int, default=13)
    p.add_argument("--villages", type=int, default=150)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(f"{result['households']} households: {result['reports']} reports due in {result['due_sweep_s']} s;")
    print(f"a sweep with none due {result['idle_sweep_s']} s (median of {result['rounds']})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
