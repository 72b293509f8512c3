"""The demo's whole loop (issue 21): on the embedded default the people's messages go to the simulated
providers and population (design decision 22) on an accelerated engine clock, and the demo waits until the
loop closes — every targeted household reached, or named unreachable with the reason — then writes the
closure report page and counts the visits and the 叫应 calls.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.report.closure import closure_report, to_html
from warnengine.settings import Settings

DEMO_SPEED = 90.0  # engine seconds a wall second: the red ladder's 75 minutes pass in 50 s
POLL_S = 0.5


def accelerated(s: Settings) -> Settings:
    """The demo's settings: the engine clock `DEMO_SPEED` times the wall clock (unless
    WARNENGINE_CLOCK_SPEED says otherwise), and the engine-time durations tuned for the wall clock
    scaled with it, so a terminal is not re-sent before it could play, nor a stage re-emitted before it
    could finish; the escalation ladder runs every wall second (each run is a minute of engine time)."""
    speed = s.clock_speed if "clock_speed" in s.model_fields_set else DEMO_SPEED
    return s.model_copy(
        update={
            "clock_speed": speed,
            "resend_after_s": s.resend_after_s * speed,
            "reconcile_grace_s": s.reconcile_grace_s * speed,
            "terminal_offline_after_s": s.terminal_offline_after_s * speed,
            "escalate_interval_s": min(s.escalate_interval_s, 1.0),
        }
    )


def unnamed(report: dict[str, Any]) -> int:
    """Households neither reached nor named in the report with a reason (the demo fails on any)."""
    named = sum(1 for h in report["unreached"] if h["reason"])
    return int(report["households"]) - int(report["reached"]) - named


async def open_households(store: Store, warning_id: str) -> tuple[int, dict[str, set[str | None]]]:
    """Households targeted, and each open one (neither reached nor unreachable) with the holders of its
    open visit tasks (empty: no visit open, e.g. a revisit not yet due)."""
    wh, vt, vh = t.warning_households.c, t.visit_tasks.c, t.visit_households.c
    async with store.engine.connect() as conn:
        total = (await conn.execute(select(func.count()).where(wh.warning_id == warning_id))).scalar_one()
        rows = await conn.execute(
            select(wh.household_id).where(
                wh.warning_id == warning_id, wh.state.not_in(("reached", "unreachable"))
            )
        )
        still: dict[str, set[str | None]] = {str(r.household_id): set() for r in rows}
        for r in await conn.execute(
            select(vh.household_id, vt.assignee)
            .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
            .where(vt.warning_id == warning_id, vt.state.in_(("open", "accepted")), vh.outcome.is_(None))
        ):
            if r.household_id in still:
                still[r.household_id].add(r.assignee)
    return int(total), still


async def wait_closed(
    store: Store, warning_id: str, deadline: float, silent: set[str]
) -> dict[str, Any] | None:
    """The closure report once the loop is closed — every household reached or unreachable — or once the
    only households left open wait on a visit held by someone who never answers (`silent`: the simulated
    population's staff; nothing more will come of them, and the report names them with who holds them);
    at the deadline, as it stands. None: the warning was never recorded."""
    while time.perf_counter() < deadline:
        total, still = await open_households(store, warning_id)
        if total and all(holders and holders <= silent for holders in still.values()):
            break
        await asyncio.sleep(POLL_S)
    return await closure_report(store, warning_id)


def write_page(report: dict[str, Any] | None, out: Path) -> str | None:
    """The closure report as its printable page (what the console's 报告 link serves), at `out`."""
    if report is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_html(report), encoding="utf-8")
    return str(out.resolve())


async def loop_numbers(
    store: Store, warning_id: str, report: dict[str, Any] | None, out: Path
) -> dict[str, Any]:
    """The demo line's loop keys: doors reported by visitors, staff whose superior was called (叫应),
    households named in the report, those still open, and the report page written to `out`."""
    vt, vh, sc = t.visit_tasks.c, t.visit_households.c, t.staff_calls.c
    async with store.engine.connect() as conn:
        visits = (
            await conn.execute(
                select(func.count())
                .select_from(t.visit_households.join(t.visit_tasks, vt.task_id == vh.task_id))
                .where(vt.warning_id == warning_id, vh.outcome.is_not(None))
            )
        ).scalar_one()
        called = (await conn.execute(select(func.count()).where(sc.warning_id == warning_id))).scalar_one()
    page = await asyncio.to_thread(write_page, report, out)
    return {
        "visits": int(visits),
        "staff_called": int(called),
        "unreached": len(report["unreached"]) if report else None,
        "open": int(report["open"]) if report else None,
        "unnamed": unnamed(report) if report else None,
        "report": page,
    }
