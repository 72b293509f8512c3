"""Persons accounting (到人) in the escalation sweep: what counting persons, not only households, adds to one
sweep of a county-wide red warning over ~500,000 residents (issue 17, goal ≤ 1.20).

Setup (not timed): a generated county (plan_county.py's `prepare`: 20 townships, 5–9 groups of 14–26
households per village; 1,200 villages give ~170,000 households and ~500,000 residents) imported into SQLite
in a temporary folder, a county-wide red warning (plan_county.py's `warning`) planned and resolved by the
real plan stage, then `--ack-share` of the residents (drawn with `--seed`) acknowledging their first message
through the real ack path (`Store.acknowledge`): each ack accounts for its sender (`--household-share` of
them answer for the whole household, "全家"), and a household is reached only when all its members are.
That database is the `with` variant. A copy of it, rewritten to what the record held before persons
accounting — every household with any member's ack reached, no `person_accounts` rows — is the `without`
variant.

Per round, each variant in turn (interleaved, the order alternating between rounds) is copied afresh from
its prepared database with SQLite's backup API (a sweep records its steps, visit tasks, 叫应 and new
deliveries), opened with a `ManualClock` `--minutes` after the warning resolved (by default past the
resend and visit steps, the silent-staff 叫应 and the silent-loudspeaker fallback), and one `escalate`
sweep is timed, wall and process CPU: `without` as before (`persons=False`: resends go to every member of
an open household), `with` skipping the persons already accounted for, over the households still open for
their other members. Prints medians, the ratio with ÷ without, and one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from ab_rounds import interleave, print_verdict, summary
from duty_sweep import copy_db, url
from plan_county import prepare, warning
from sqlalchemy import text
from upward_reports import POLICY

from warnengine.clock import ManualClock
from warnengine.db import connect
from warnengine.db.store import Store
from warnengine.escalate.ladder import SweepCounts, escalate
from warnengine.model.household_reply import WHOLE
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory

HOUR = 3600.0
TARGET = 1.20
# The record before persons accounting: a household is reached by any member's ack.
BEFORE = (
    "UPDATE warning_households SET state = 'reached', reached_by = 'app', reached_at = :at, updated_at = :at"
    " WHERE state != 'reached' AND household_id IN"
    " (SELECT household_id FROM deliveries WHERE acked_at IS NOT NULL AND household_id IS NOT NULL)"
)


async def acknowledge(
    store: Store, warning_id: str, share: float, seed: int, at: float, for_household: float
) -> int:
    """`share` of the residents answer their first message (one delivery each): the real ack path;
    `for_household` of those answer for the whole household ("全家", model/household_reply.py)."""
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT person_id, min(delivery_id) FROM deliveries WHERE warning_id = :w AND step = 0"
                    " AND household_id IS NOT NULL AND person_id IS NOT NULL GROUP BY person_id"
                    " ORDER BY person_id"
                ),
                {"w": warning_id},
            )
        ).all()
    rng = random.Random(seed)
    chosen = [did for _, did in rows if rng.random() < share]
    whole = {did: WHOLE for did in chosen if rng.random() < for_household}
    for k in range(0, len(chosen), 1000):
        part = chosen[k : k + 1000]
        await store.acknowledge([(did, at) for did in part], {d: whole[d] for d in part if d in whole})
    return len(chosen)


async def setup(folder: Path, args: argparse.Namespace) -> tuple[Directory, float, dict[str, Any]]:
    """The two prepared databases (`with.db`, `without.db`); the directory, the sweep's clock, sizes."""
    base = folder / "with.db"
    county: dict[str, Any] = dict(await prepare(url(base), args.villages, args.seed))
    clock = ManualClock(time.time())
    store = Store(connect(url(base)), clock)
    directory = await Directory.load(store)
    w = warning(0)
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, POLICY, store, 6 * HOUR), "the warning reached no village"
    county["acknowledged"] = await acknowledge(
        store, w.warning_id, args.ack_share, args.seed, clock.now() + 60, args.household_share
    )
    county["households_open_with"] = len(await store.unreached_households(w.warning_id))
    tally = await store.persons_tally(w.warning_id)
    county["persons"], county["persons_accounted"] = tally["persons"], tally["persons_accounted"]
    await store.close()
    copy_db(base, folder / "without.db")
    store = Store(connect(url(folder / "without.db")), clock)
    async with store.engine.begin() as conn:
        await conn.execute(text(BEFORE), {"at": clock.now() + 60})
        await conn.execute(text("DELETE FROM person_accounts"))
    county["households_open_without"] = len(await store.unreached_households(w.warning_id))
    await store.close()
    return directory, clock.now() + args.minutes * 60, county


async def sweep(
    folder: Path, variant: str, directory: Directory, at: float
) -> tuple[float, float, SweepCounts]:
    """One sweep on a fresh copy of the variant's database: (wall s, CPU s, what it did)."""
    db = folder / "round.db"
    copy_db(folder / f"{variant}.db", db)
    store = Store(connect(url(db)), ManualClock(at))
    try:
        async with store.engine.connect() as conn:  # open the pool's connection before timing
            await conn.execute(text("SELECT 1"))

        async def emit(_w: str, _v: int, _village: str) -> None:
            return None

        wall, cpu = time.perf_counter(), time.process_time()
        counts = await escalate(store, directory, POLICY, emit, persons=variant == "with")
        return time.perf_counter() - wall, time.process_time() - cpu, counts
    finally:
        await store.close()


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    directory, at, county = await setup(folder, args)

    async def measure(variant: str) -> tuple[float, float, SweepCounts]:
        return await sweep(folder, variant, directory, at)

    times, did = await interleave(args.rounds, measure)
    assert did["with"].steps == did["without"].steps, "the two variants ran different ladder steps"
    assert did["with"].steps, "the sweep ran no ladder step"
    return {
        "benchmark": "persons_sweep",
        "database": "sqlite",
        **county,
        "ack_share": args.ack_share,
        "household_share": args.household_share,
        "minutes_after_resolve": args.minutes,
        "steps": [s.split(":", 1)[1] for s in did["with"].steps],
        "deliveries_without": did["without"].deliveries,
        "deliveries_with": did["with"].deliveries,
        **summary(times, TARGET),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--villages", type=int, default=1200, help="1,200 give ~500,000 residents")
    ap.add_argument("--ack-share", type=float, default=0.4, help="residents who answer before the sweep")
    ap.add_argument(
        "--household-share", type=float, default=0.0, help="of those, who answer for the household (全家)"
    )
    ap.add_argument("--minutes", type=float, default=11, help="engine clock after the warning resolved")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args, Path(tmp)))
    print(
        f"{r['households']:,} households, {r['persons']:,} residents, {r['acknowledged']:,} answered; open "
        f"households without {r['households_open_without']:,}, with {r['households_open_with']:,}; "
        f"steps {', '.join(r['steps'])} at {r['minutes_after_resolve']} min"
    )
    print_verdict(r, "persons")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
