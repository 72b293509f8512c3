"""The simulation's summary: the closure report's numbers by minute, the staff called, and the goal
section that names every household the goal missed with the evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.report.closure import MINUTE_MARKS, closure_report, to_html
from warnengine.sim.field import field_summary
from warnengine.sim.goals import persons_goals
from warnengine.sim.late import late_households
from warnengine.sim.scenario import Scenario


async def summarise(
    store: Store, sc: Scenario, warning_id: str, t0: float, html: Path | None = None
) -> dict[str, Any]:
    report = await closure_report(store, warning_id)
    if report is None:
        raise LookupError(f"no closure report for {warning_id}: the warning was never recorded")
    summary = await _summary(store, report, warning_id, t0)
    summary.update(await field_summary(store, warning_id, t0))  # field_reports, evacuation (issue 17)
    summary["orgs"] = _orgs(report["orgs"])  # schools, enterprises…
    g = sc.goal
    late = await late_households(store, warning_id, t0, g.households_min, g.vulnerable_min)
    # 叫应 within the goal: a silent person's superior called by then (the sweep runs every step).
    call_by = t0 + g.staff_min * 60 + sc.step_s
    summary["goal"] = {
        **g.model_dump(),
        "households_met": all(
            x["reached_min"] is not None and x["reached_min"] <= g.households_min for x in late
        ),
        "vulnerable_met": not any(x["vulnerable"] for x in late),
        "staff_met": all(c["called_at"] <= call_by for c in report["staff_not_answering"]),
        "late": late,
        # Issue 17's goals (sim/goals.py), when the scenario sets them.
        **await persons_goals(store, warning_id, t0, t0 + sc.minutes * 60, g),
    }
    if html is not None:
        summary["report_html"] = to_html(report)
    return summary


def _orgs(section: dict[str, Any]) -> dict[str, Any]:
    """The closure report's org numbers, and each org not reached named with the reason (not the whole
    list: the reached ones are counted)."""
    out = {k: v for k, v in section.items() if k != "list"}
    out["not_reached"] = [
        {k: o[k] for k in ("org_id", "name", "kind", "headcount", "reason")}
        for o in section["list"]
        if o["state"] != "reached"
    ]
    return out


async def _summary(store: Store, report: dict[str, Any], warning_id: str, t0: float) -> dict[str, Any]:
    sc = t.staff_calls.c
    d = t.deliveries.c
    async with store.engine.connect() as conn:
        called = [
            r.called_at for r in await conn.execute(select(sc.called_at).where(sc.warning_id == warning_id))
        ]
        first_ack: dict[str, float | None] = {}
        p = t.people.c
        for r in await conn.execute(
            select(d.person_id, d.acked_at)
            .join_from(t.deliveries, t.people, p.person_id == d.person_id)
            .where(d.warning_id == warning_id, d.step == 0, p.role != "resident")
        ):
            have = first_ack.get(r.person_id)
            first_ack[r.person_id] = r.acked_at if have is None else min(have, r.acked_at or have)
        outcomes = await _visit_outcomes(conn, warning_id)
        calls = await _calls(conn, warning_id)
        u = t.upward_reports.c
        upward = [
            (r.kind, int(r.due_min), int(r.persons))
            for r in await conn.execute(
                select(u.kind, u.due_min, u.persons).where(u.warning_id == warning_id)
            )
        ]
    staff_acks = [a for a in first_ack.values() if a is not None]

    def by_min(times: list[float]) -> dict[str, int]:
        return {str(m): sum(1 for x in times if x - t0 <= m * 60) for m in MINUTE_MARKS}

    return {
        "households": report["households"],
        "reached": report["reached"],
        "reached_by_min": report["reached_by_min"],
        "vulnerable": report["vulnerable"]["households"],
        "vulnerable_reached_by_min": report["vulnerable"]["reached_by_min"],
        "reached_by_channel": report["reached_by_channel"],
        "staff": len(first_ack),
        "staff_acknowledged_by_min": by_min(staff_acks),
        "staff_called_by_min": by_min(called),
        "unreachable": report["unreachable"],
        "persons": report["persons"],
        # 到人 (issue 17): persons accounted for by minute, and those not with why.
        "persons_accounted": report["persons_accounted"],
        "persons_unaccounted": report["persons_unaccounted"],
        "persons_accounted_by_min": report["persons"]["accounted_by_min"],
        "needs_help": report["needs_help"],
        "nobody_home": report["nobody_home"],
        # Issue 17: households ever reported needing help, and nobody-home doors visited again.
        "needs_help_cases": len(outcomes.get("needs_help", set())),
        "revisits": len(outcomes.get("revisit", set())),
        "unreached": report["unreached"],
        "visit_tasks": report["visit_tasks"],
        # Issue 16: every call's outcome, and 叫应 (duty ladder calls) placed and answered by minute.
        "calls_by_outcome": calls["outcomes"],
        "jiaoying_by_min": {"called": by_min(calls["called"]), "answered": by_min(calls["answered"])},
        # Upward reports (上报) sent to the townships' and the county's duty: cells per due minute.
        "upward_reports": {
            str(m): sum(1 for k, due, _ in upward if k == "progress" and due == m)
            for m in sorted({due for k, due, _ in upward if k == "progress"})
        },
    }


async def _visit_outcomes(conn: AsyncConnection, warning_id: str) -> dict[str, set[str]]:
    """Households by visit outcome over all the warning's tasks; `revisit`: a door visited after a
    nobody-home report."""
    vt, vh = t.visit_tasks.c, t.visit_households.c
    seen: dict[str, list[tuple[float, str]]] = {}
    for r in await conn.execute(
        select(vh.household_id, vh.outcome, vh.at)
        .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
        .where(vt.warning_id == warning_id, vh.outcome.is_not(None))
    ):
        seen.setdefault(r.household_id, []).append((float(r.at or 0), r.outcome))
    out: dict[str, set[str]] = {}
    for home, reports in seen.items():
        reports.sort()
        for outcome in {o for _, o in reports}:
            out.setdefault(outcome, set()).add(home)
        if len(reports) > 1 and reports[0][1] == "nobody_home":
            out.setdefault("revisit", set()).add(home)
    return out


CALL_STEPS = (50, 90)  # escalate.rows: 叫应 messages and calls are steps 50…89


async def _calls(conn: AsyncConnection, warning_id: str) -> dict[str, Any]:
    """Voice calls by outcome (pressed_1, answered, busy, no_answer, failed, or still open), and the 叫应
    of the duty ladder: when each was placed (every try) and when each target answered one."""
    d, dc = t.deliveries.c, t.duty_calls.c
    outcomes: dict[str, int] = {}
    for r in await conn.execute(
        select(d.state, d.reason).where(d.warning_id == warning_id, d.channel == "voice")
    ):
        label = {"acknowledged": "pressed_1", "delivered": "answered"}.get(r.state, r.state)
        if r.state == "failed":
            label = (r.reason or "failed").split(":")[0]
        outcomes[label] = outcomes.get(label, 0) + 1
    called: list[float] = []
    for c in await conn.execute(
        select(dc.called_at, dc.tries, dc.last_called_at).where(dc.warning_id == warning_id)
    ):
        called.append(float(c.called_at))
        if c.tries > 1 and c.last_called_at is not None:  # the tries between are spread evenly
            gap = (float(c.last_called_at) - float(c.called_at)) / (c.tries - 1)
            called += [float(c.called_at) + gap * k for k in range(1, c.tries)]
    answered: dict[str, float] = {}
    for a in await conn.execute(
        select(d.person_id, d.acked_at).where(
            d.warning_id == warning_id,
            d.step >= CALL_STEPS[0],
            d.step < CALL_STEPS[1],
            d.acked_at.is_not(None),
        )
    ):
        answered[a.person_id] = min(float(a.acked_at), answered.get(a.person_id, float(a.acked_at)))
    return {
        "outcomes": dict(sorted(outcomes.items())),
        "called": sorted(called),
        "answered": sorted(answered.values()),
    }
