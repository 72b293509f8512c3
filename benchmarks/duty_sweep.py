"""The duty roster inside the escalation sweep: what looking up who is on duty (2,000 cells × 3 posts)
adds to one sweep of a county-wide red warning over ~50,000 households (issue 16, goal ≤ 5 %).

Setup (not timed): a generated county (plan_county.py's `prepare`: 20 townships, 5–9 groups of 14–26
households per village; 360 villages give ~50,000 households) imported into SQLite in a temporary folder,
a county-wide red warning (plan_county.py's `warning`) planned and resolved by the real plan stage;
nobody acknowledges. That database is the `without` variant (empty `duty_shifts`: every 叫应 and visit
goes to the directory's staff). A copy of it gets a roster (`Store.replace_roster`): the county, its
townships, villages and then groups up to `--cells` cells, each with post A, B and deputy held by the
cell's own staff (then its parent cells'), every shift spanning the sweep's clock: the `with` variant.

Per round, each variant in turn (interleaved, so both share the machine's noise; the order alternates
between rounds) is copied afresh from its prepared database with SQLite's backup API (a sweep records
its steps, visit tasks, 叫应 and new deliveries, so reusing a database would change the next round's
work), opened with a `ManualClock` at the same instant, `--minutes` after the warning was resolved (by
default past the resend and visit steps, the silent-staff 叫应 and the silent-loudspeaker fallback), and
one `escalate` sweep is timed: wall time and process CPU time. The warning, the directory, the policy
and the clock are the same objects or values for both; only the roster differs. Prints medians, the
ratio with ÷ without, and one JSON object as the last line. The engine's log lines (a warning per village
that falls back) are printed as a worker prints them, inside the timed sweep, alike for both variants.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from ab_rounds import interleave, print_verdict, summary
from plan_county import prepare, warning
from sqlalchemy import text
from upward_reports import POLICY

from warnengine.clock import ManualClock
from warnengine.db import connect
from warnengine.db.store import Store
from warnengine.escalate.ladder import SweepCounts, escalate
from warnengine.model import Level
from warnengine.model.duty import Post, Shift
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Contact, Directory

HOUR = 3600.0
TARGET = 1.05
ROSTER_CALLS = "SELECT count(*) FROM duty_calls WHERE post IS NOT NULL"


def url(db: Path) -> str:
    return f"sqlite+aiosqlite:///{db}"


def copy_db(src: Path, dst: Path) -> None:
    """A consistent copy of a WAL-mode SQLite database (SQLite's online backup)."""
    dst.unlink(missing_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def roster(directory: Directory, cells: int, at: float) -> list[Shift]:
    """Post A, B and deputy for up to `cells` cells (county, townships, villages, then groups), held by
    the cell's staff, then its parent cells' staff; every shift from 8 hours before `at` to 16 after."""
    order = [Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE, Level.GROUP]
    chosen = sorted(directory.cells, key=lambda c: (order.index(directory.cells[c].level), c))[:cells]
    shifts: list[Shift] = []
    for cell in chosen:
        holders: dict[str, Contact] = {}
        for code in directory.above(cell):
            for s in directory.staff.get(code, []):
                holders.setdefault(s.person_id, s)
        for post, who in zip(Post, list(holders.values())[:3], strict=False):
            shifts.append(Shift(cell, who.role, post, who.person_id, at - 8 * HOUR, at + 16 * HOUR))
    return shifts


async def setup(folder: Path, args: argparse.Namespace) -> tuple[Directory, float, dict[str, int]]:
    """The two prepared databases (`without.db`, `with.db`); returns the directory, the sweep's clock
    time and the sizes."""
    base = folder / "without.db"
    county = await prepare(url(base), args.villages, args.seed)
    clock = ManualClock(time.time())
    store = Store(connect(url(base)), clock)
    directory = await Directory.load(store)
    w = warning(0)
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, POLICY, store, 6 * HOUR), "the warning reached no village"
    county["households_unreached"] = len(await store.unreached_households(w.warning_id))
    await store.close()
    at = clock.now() + args.minutes * 60
    shifts = roster(directory, args.cells, at)
    copy_db(base, folder / "with.db")
    store = Store(connect(url(folder / "with.db")), ManualClock(at))
    await store.replace_roster(shifts)
    board = await store.duty_board(at)
    await store.close()
    county["cells"] = len(directory.cells)
    county["cells_on_roster"] = len(board.by_cell)
    county["shifts"] = len(shifts)
    return directory, at, county


async def sweep(
    folder: Path, variant: str, directory: Directory, at: float
) -> tuple[float, float, SweepCounts, int]:
    """One sweep on a fresh copy of the variant's database: (wall s, CPU s, what it did, 叫应 to a post)."""
    db = folder / "round.db"
    copy_db(folder / f"{variant}.db", db)
    store = Store(connect(url(db)), ManualClock(at))
    try:
        async with store.engine.connect() as conn:  # open the pool's connection before timing
            await conn.execute(text("SELECT 1"))
        emitted: set[str] = set()

        async def emit(_w: str, _v: int, village: str) -> None:
            emitted.add(village)

        wall, cpu = time.perf_counter(), time.process_time()
        counts = await escalate(store, directory, POLICY, emit)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        async with store.engine.connect() as conn:  # 叫应 that went to a roster post (not timed)
            posted = (await conn.execute(text(ROSTER_CALLS))).scalar_one()
        return wall, cpu, counts, int(posted)
    finally:
        await store.close()


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    directory, at, county = await setup(folder, args)
    posted: dict[str, int] = {}

    async def measure(variant: str) -> tuple[float, float, SweepCounts]:
        wall, cpu, counts, posted[variant] = await sweep(folder, variant, directory, at)
        return wall, cpu, counts

    times, did = await interleave(args.rounds, measure)
    assert did["with"].steps == did["without"].steps, "the two variants ran different ladder steps"
    assert did["with"].steps, "the sweep ran no ladder step"
    assert posted["with"] and not posted["without"], "the roster was not used, or used without one"
    return {
        "benchmark": "duty_sweep",
        "database": "sqlite",
        "households": county["households"],
        "households_unreached": county["households_unreached"],
        "cells": county["cells"],
        "cells_on_roster": county["cells_on_roster"],
        "shifts": county["shifts"],
        "minutes_after_resolve": args.minutes,
        "steps": [s.split(":", 1)[1] for s in did["with"].steps],
        "deliveries_without": did["without"].deliveries,
        "deliveries_with": did["with"].deliveries,
        "duty_calls_without": did["without"].duty_calls,
        "duty_calls_with": did["with"].duty_calls,
        "duty_calls_to_roster_posts": posted["with"],
        "duty_gaps_with": len(did["with"].duty_gaps),
        **summary(times, TARGET),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--villages", type=int, default=360, help="360 gives ~50,000 households")
    ap.add_argument("--cells", type=int, default=2000, help="cells on the roster, 3 posts each")
    ap.add_argument("--minutes", type=float, default=11, help="engine clock after the warning resolved")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args, Path(tmp)))
    print(
        f"{r['households']:,} households, {r['cells_on_roster']:,} of {r['cells']:,} cells on the roster "
        f"({r['shifts']:,} shifts); steps {', '.join(r['steps'])} at {r['minutes_after_resolve']} min"
    )
    print_verdict(r, "roster")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
