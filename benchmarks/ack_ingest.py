"""Acknowledgement ingestion: acks applied to the record per second, against the database's own update
rate for the same rows, in the same run.

Setup (not timed): the sample county (36,000 people) in a fresh database, and one county-wide red
warning planned by the plan stage (~50,000 people deliveries). Then, per kind, the ack stage's own
function is fed batches of 1,000 (a Faust batch), each applied in the database:

- `app`:    app acknowledgements by delivery id (apply_app_acks): delivery acknowledged, household reached;
- `reply`:  SMS replies "收到" matched by phone number (apply_channel_events): the same, plus the matching;
- `status`: provider receipts "delivered" (apply_channel_events).

The limit: the bare driver updating the same number of deliveries by primary key (executemany of
`UPDATE deliveries SET state, acked_at WHERE delivery_id`, one transaction per 1,000). Medians of
`--runs` (each on a fresh warning). Goal (issue 7): >= 10,000 acks/s.

Earlier warnings stay live, so run k's replies are matched against 4k+2 live county-wide warnings, and
from the second run on each reply also acknowledges the person's delivery of the previous run's `status`
warning (delivered, never answered): ~2 deliveries and households per reply instead of 1. Replies also
arrive in phone order, i.e. scattered over the warning's rows, where app acks and the bare update above
come in plan (village) order. So `reply` also reports the deliveries it acknowledged per second and, after
the runs, the bare update of a fresh warning's deliveries in random order (`raw_random_update_per_s`):
the limit for scattered rows.

    .venv/bin/python benchmarks/ack_ingest.py [--pg local]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from channels.base import ChannelEvent
from warnengine.acks.people import apply_app_acks, apply_channel_events
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import read_county
from warnengine.model import Area, DeliveryState, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.policy import load_policy
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory
from warnengine.wire.records import AppAck

REPO = Path(__file__).resolve().parents[1]
BATCH = 1000


def warning(n: int) -> HazardWarning:
    return HazardWarning(
        warning_id=f"w-ack-{n}-{time.time_ns() % 10**9}",
        version=1,
        sender="bench",
        identifier=f"a{n}",
        sent=datetime.now(UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.METEO,
        severity=Severity.RED,
        event="暴雨",
        areas=[Area(codes=["410526000000"])],
    )


async def planned(store: Store, directory: Directory, n: int, channel: str) -> list[Any]:
    w = warning(n)
    await store.save_warning(w)
    await plan_deliveries(w, directory, load_policy(REPO / "config" / "policy.yaml"), store, 3600)
    d = t.deliveries.c
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(d.delivery_id, d.recipient).where(
                d.warning_id == w.warning_id, d.channel == channel, d.household_id.is_not(None)
            )
        )
        return list(rows)


async def count_state(store: Store, rows: list[Any], state: str) -> int:
    d = t.deliveries.c
    ids = [r.delivery_id for r in rows]
    n = 0
    async with store.engine.connect() as conn:
        for i in range(0, len(ids), 5000):
            res = await conn.execute(
                select(d.delivery_id).where(d.delivery_id.in_(ids[i : i + 5000]), d.state == state)
            )
            n += len(res.all())
    return n


async def timed(batches: list[Any], apply: Any) -> tuple[float, int, int]:
    """Seconds, acks fed, deliveries acknowledged (as the apply function counted them)."""
    t0 = time.perf_counter()
    n = acknowledged = 0
    for batch in batches:
        counts = await apply(batch)
        n += len(batch)
        acknowledged += counts.get("acknowledged", 0) if isinstance(counts, dict) else counts
    return time.perf_counter() - t0, n, acknowledged


async def raw_update(store: Store, ids: list[str]) -> float:
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # None only once the connection is invalidated
        pg = store.engine.dialect.name == "postgresql"
        sql = (
            "UPDATE deliveries SET state = $1, acked_at = $2 WHERE delivery_id = $3"
            if pg
            else "UPDATE deliveries SET state = ?, acked_at = ? WHERE delivery_id = ?"
        )
        t0 = time.perf_counter()
        for i in range(0, len(ids), BATCH):
            rows = [("acknowledged", 1.0, x) for x in ids[i : i + BATCH]]
            if pg:
                async with driver.transaction():
                    await driver.executemany(sql, rows)
            else:
                await driver.executemany(sql, rows)
                await driver.commit()
        return time.perf_counter() - t0


def shuffled(ids: list[str], seed: int) -> list[str]:
    out = list(ids)
    random.Random(seed).shuffle(out)
    return out


async def main(url: str, runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    engine = connect(url)
    await migrate(engine)
    store = Store(engine, SystemClock())
    county = read_county(REPO / "config" / "county")
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    directory = await Directory.load(store)
    directory.people_at("")  # build the address index outside the timing (the worker builds it once)
    rates: dict[str, list[float]] = {
        k: [] for k in ("app", "reply", "status", "raw", "reply_deliveries", "raw_random")
    }
    live: list[int] = []
    for run in range(runs):
        rows = await planned(store, directory, 4 * run, "sms")
        ids = [r.delivery_id for r in rows]
        app = [[AppAck(delivery_id=x, at=1.0) for x in ids[i : i + BATCH]] for i in range(0, len(ids), BATCH)]
        s, n, _ = await timed(app, lambda b: apply_app_acks(b, store))
        rates["app"].append(n / s)
        rows = await planned(store, directory, 4 * run + 1, "sms")
        phones = sorted({r.recipient for r in rows})
        replies = [
            [
                ChannelEvent("twilio", "reply", 1.0, sender=p, text="收到", ack_hint=True)
                for p in phones[i : i + BATCH]
            ]
            for i in range(0, len(phones), BATCH)
        ]
        live.append(len(await store.recent_versions(0.0)))
        s, n, acked = await timed(replies, lambda b: apply_channel_events(b, store, directory))
        rates["reply"].append(n / s)
        rates["reply_deliveries"].append(acked / s)
        assert await count_state(store, rows, "acknowledged") == len(rows), "replies were not applied"
        rows = await planned(store, directory, 4 * run + 3, "sms")
        statuses = [
            [
                ChannelEvent(
                    "twilio", "status", 1.0, delivery_id=r.delivery_id, state=DeliveryState.DELIVERED
                )
                for r in rows[i : i + BATCH]
            ]
            for i in range(0, len(rows), BATCH)
        ]
        s, n, _ = await timed(statuses, lambda b: apply_channel_events(b, store, directory))
        rates["status"].append(n / s)
        assert await count_state(store, rows, "delivered") == len(rows), "statuses were not applied"
        rows = await planned(store, directory, 4 * run + 2, "sms")
        rates["raw"].append(len(rows) / await raw_update(store, [r.delivery_id for r in rows]))
    for run in range(runs):  # after the runs: these warnings are not live for any reply measured above
        rows = await planned(store, directory, 4 * runs + run, "sms")
        ids = shuffled([r.delivery_id for r in rows], run)
        rates["raw_random"].append(len(ids) / await raw_update(store, ids))
    await store.close()
    med = {k: round(statistics.median(v)) for k, v in rates.items()}
    return {
        "database": engine.dialect.name,
        "acks_per_run": len(ids),
        "acks_per_s": {k: med[k] for k in ("app", "reply", "status")},
        "raw_update_per_s": med["raw"],
        "ratio_to_raw": {k: round(med[k] / med["raw"], 3) for k in ("app", "reply", "status")},
        "goal_acks_per_s": 10_000,
        "reply": {
            "live_warnings_per_run": live,
            "replies_per_s_per_run": [round(r) for r in rates["reply"]],
            "deliveries_acknowledged_per_s": med["reply_deliveries"],
            "raw_random_update_per_s": med["raw_random"],
            "deliveries_ratio_to_raw_random": round(med["reply_deliveries"] / med["raw_random"], 3),
        },
        "seconds": round(time.perf_counter() - started),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL, or 'local' for a throwaway cluster")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        url = args.pg or f"sqlite+aiosqlite:///{tmp}/acks.db"
        if args.pg == "local":
            sys.path.insert(0, str(REPO))
            from tests.servers import postgres_server

            url = stack.enter_context(postgres_server())
        print(json.dumps(asyncio.run(main(url, args.runs))))
