"""A county-wide red warning over a 500,000-resident county: resolved, planned and persisted, against
the database's own bulk-insert rate for the same rows.

Setup (not timed, in a child process so its memory does not count): generate the county and import it.
Then this process does what a worker does: load the targeting directory from the database, and per
round run the plan stage on a new county-wide red warning (area → villages and households, policy →
per-person deliveries and per-terminal commands, bulk insert in slices, mark resolved). The limit is the
same rows, built in the same slices, written by the bare driver into empty tables with the same schema
and indexes (SQLite: `executemany` per slice in one transaction; PostgreSQL: asyncpg COPY), only the
writes timed, in the same run. Prints medians and the process's peak RSS, one JSON line.

    .venv/bin/python benchmarks/plan_county.py                      # SQLite (the embedded default)
    .venv/bin/python benchmarks/plan_county.py --pg local     # PostgreSQL: a throwaway local cluster
    .venv/bin/python benchmarks/plan_county.py --pg postgresql+asyncpg://...   # or your server

Goals (issue 4): <= 10 s and <= 1 GiB RSS on 2 cores; ratio to the raw insert rate >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.db.store.plan import DELIVERY_COLUMNS, HOUSEHOLD_COLUMNS
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.plan import VillagePlan, plan_warning
from warnengine.plan.policy import load_policy
from warnengine.plan.stage import plan_deliveries, plan_rows
from warnengine.resolve.directory import Directory
from warnengine.resolve.targets import resolve_areas

REPO = Path(__file__).resolve().parents[1]
COUNTY_CODE = "410526"
TABLES = (("deliveries", DELIVERY_COLUMNS), ("warning_households", HOUSEHOLD_COLUMNS))


async def prepare(url: str, villages: int, seed: int) -> dict[str, int]:
    from warnengine.directory import generate_county

    county = generate_county(
        seed=seed, townships=20, villages=villages, groups_per_village=(5, 9), households_per_group=(14, 26)
    )
    engine = connect(url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await migrate(engine)
    store = Store(engine, SystemClock())
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    await store.close()
    residents = sum(1 for p in county.people if p.role.value == "resident")
    return {"households": len(county.households), "people": len(county.people), "residents": residents}


def warning(n: int) -> HazardWarning:
    return HazardWarning(
        warning_id=f"w-bench-{n}-{time.time_ns()}",
        version=1,
        sender="bench",
        identifier=f"b{n}",
        sent=datetime.now(UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.METEO,
        severity=Severity.RED,
        event="暴雨",
        headline="县气象台发布暴雨红色预警",
        areas=[Area(codes=[COUNTY_CODE + "000000"])],
    )


async def raw_tables(store: Store) -> None:
    """Empty copies of the two tables, same columns and indexes, for the bare driver to write into."""
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # None only once the connection is invalidated
        for table, _ in TABLES:
            await driver.execute(f"DROP TABLE IF EXISTS raw_{table}")
            if store.engine.dialect.name == "postgresql":
                await driver.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
                continue
            cur = await driver.execute(f"SELECT sql FROM sqlite_master WHERE name = '{table}'")
            (schema,) = await cur.fetchone()
            await driver.execute(schema.replace(f"CREATE TABLE {table}", f"CREATE TABLE raw_{table}", 1))
            cur = await driver.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name = '{table}'"
            )
            for (sql,) in await cur.fetchall():
                await driver.execute(
                    sql.replace("INDEX ix_", "INDEX raw_ix_").replace(f" ON {table} ", f" ON raw_{table} ")
                )
        if store.engine.dialect.name != "postgresql":
            await driver.commit()


async def raw_insert(store: Store, deliveries: list[Any], households: list[Any]) -> float:
    """Seconds for the bare driver to write one slice of rows into the raw_ tables, in one transaction."""
    slices = (deliveries, households)
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # None only once the connection is invalidated
        t0 = time.perf_counter()
        if store.engine.dialect.name == "postgresql":
            async with driver.transaction():
                for (table, cols), rows in zip(TABLES, slices, strict=True):
                    await driver.copy_records_to_table(f"raw_{table}", records=rows, columns=list(cols))
            return time.perf_counter() - t0
        for (table, cols), rows in zip(TABLES, slices, strict=True):
            marks = ", ".join("?" * len(cols))
            await driver.executemany(f"INSERT INTO raw_{table} ({', '.join(cols)}) VALUES ({marks})", rows)
        await driver.commit()
        return time.perf_counter() - t0


async def raw_round(store: Store, w: HazardWarning, directory: Directory, policy: Any) -> tuple[float, int]:
    """The same rows as the plan stage writes for `w` (under another id), built in the same slices;
    returns the seconds spent writing them and how many rows there were."""
    raw_w = w.model_copy(update={"warning_id": w.warning_id + "r"})
    reach = resolve_areas(directory, w.areas)
    batch: list[VillagePlan] = []
    spent, rows, pending = 0.0, 0, 0

    async def flush() -> None:
        nonlocal spent, rows, batch, pending
        deliveries, households = plan_rows(raw_w, batch, 0.0, 1e10)
        spent += await raw_insert(store, deliveries, households)
        rows += len(deliveries) + len(households)
        batch, pending = [], 0

    for plan in plan_warning(raw_w, reach, directory, policy.rule_for(w.hazard, w.severity, w.event)):
        batch.append(plan)
        pending += len(plan.deliveries) + len(plan.devices) + len(plan.households)
        if pending >= store.plan_slice_rows:
            await flush()
    await flush()
    return spent, rows


async def measure(url: str, rounds: int) -> dict[str, Any]:
    engine = connect(url)
    store = Store(engine, SystemClock())
    policy = load_policy(REPO / "config" / "policy.yaml")
    t0 = time.perf_counter()
    directory = await Directory.load(store)
    load_s = time.perf_counter() - t0
    await raw_tables(store)
    ours, raw, rows = [], [], 0
    for n in range(rounds):
        w = warning(n)
        await store.save_warning(w)
        t0 = time.perf_counter()
        villages = await plan_deliveries(w, directory, policy, store, 6 * 3600)
        ours.append(time.perf_counter() - t0)
        assert villages, "the county-wide warning reached no village"
        spent, rows = await raw_round(store, w, directory, policy)
        raw.append(spent)
    await store.close()
    med, med_raw = statistics.median(ours), statistics.median(raw)
    return {
        "database": engine.dialect.name,
        "directory_load_s": round(load_s, 2),
        "villages": len(directory.villages),
        "rows_per_warning": rows,
        "resolve_plan_persist_s": round(med, 3),
        "raw_insert_s": round(med_raw, 3),
        "ratio_to_raw_insert": round(med_raw / med, 3),
        "rounds": [round(x, 3) for x in ours],
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "goals": {"seconds": 10, "rss_mib": 1024, "ratio": 0.5},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pg",
        default=None,
        help="PostgreSQL URL, or 'local' for a throwaway local cluster (default: SQLite)",
    )
    ap.add_argument("--villages", type=int, default=1150, help="1150 gives ~500,000 residents")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--phase", choices=["all", "prepare"], default="all", help=argparse.SUPPRESS)
    ap.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "prepare":
        print(json.dumps(asyncio.run(prepare(args.url, args.villages, args.seed))))
        return
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        url = args.pg or f"sqlite+aiosqlite:///{tmp}/bench.db"
        if args.pg == "local":  # a throwaway cluster, as the tests start it
            sys.path.insert(0, str(REPO))
            from tests.servers import postgres_server

            url = stack.enter_context(postgres_server())
        cmd = [sys.executable, __file__, "--phase", "prepare", "--url", url, "--villages", str(args.villages)]
        county = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(json.dumps({"county": county, **asyncio.run(measure(url, args.rounds))}))


if __name__ == "__main__":
    main()
