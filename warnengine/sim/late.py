"""Households the scenario's goal missed — reached after the goal time, or not at all — each with the
evidence in the record that says why: its village's terminals, its members' messages, and where its door
stood on a visitor's list."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import or_, select

from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.db.store.base import chunks


async def late_households(
    store: Store, warning_id: str, t0: float, households_min: float, vulnerable_min: float
) -> list[dict[str, Any]]:
    wh, d, vt, vh = t.warning_households.c, t.deliveries.c, t.visit_tasks.c, t.visit_households.c
    all_by, vul_by = t0 + households_min * 60, t0 + vulnerable_min * 60
    async with store.engine.connect() as conn:
        homes = (
            await conn.execute(
                select(t.warning_households).where(
                    wh.warning_id == warning_id,
                    or_(
                        wh.state != "reached",
                        wh.reached_at > all_by,
                        wh.vulnerable.is_(True) & (wh.reached_at > vul_by),
                    ),
                )
            )
        ).all()
        if not homes:
            return []
        ids = [h.household_id for h in homes]
        messages: dict[str, Counter[str]] = {}
        for chunk in chunks(ids, 500):
            for r in await conn.execute(
                select(d.household_id, d.channel, d.state, d.reason).where(
                    d.warning_id == warning_id, d.household_id.in_(chunk)
                )
            ):
                what = r.state if r.state != "failed" else f"failed: {r.reason}"
                messages.setdefault(r.household_id, Counter())[f"{r.channel} {what}"] += 1
        villages = sorted({h.village_code for h in homes})
        played = {
            r.village_code
            for r in await conn.execute(
                select(d.village_code).where(
                    d.warning_id == warning_id,
                    d.channel == "loudspeaker",
                    d.state == "played",
                    d.village_code.in_(villages),
                )
            )
        }
        visits = {
            r.household_id: r
            for chunk in chunks(ids, 500)
            for r in await conn.execute(
                select(vh.household_id, vh.outcome, vh.at, vt.assignee, vt.level, vt.assigned_at)
                .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
                .where(vt.warning_id == warning_id, vh.household_id.in_(chunk))
            )
        }
        visitors = sorted({v.assignee for v in visits.values() if v.assignee})
        doors: dict[str, list[float]] = {}  # visitor → the times of their reported visits
        for chunk in chunks(visitors, 500):
            for who, at in await conn.execute(
                select(vt.assignee, vh.at)
                .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
                .where(vt.warning_id == warning_id, vt.assignee.in_(chunk))
            ):
                doors.setdefault(who, []).append(at if at is not None else float("inf"))
    out = []
    for h in sorted(homes, key=lambda h: (not h.vulnerable, h.village_code, h.household_id)):
        why = ["village terminals played" if h.village_code in played else "no village terminal played"]
        sent = messages.get(h.household_id)
        why.append(
            "messages: " + ", ".join(f"{n}× {k}" for k, n in sorted(sent.items())) if sent else "no messages"
        )
        v = visits.get(h.household_id)
        if v is None:
            why.append("on no visit list")
        else:
            mine = sorted(doors.get(v.assignee, [])) if v.assignee else []
            at = v.at if v.at is not None else float("inf")
            who = ("group leader or grid member", "village grid head", "township dispatcher")[min(v.level, 2)]
            why.append(
                f"visit: door {sum(1 for x in mine if x <= at)} of {len(mine)} on the list of "
                f"{v.assignee or 'nobody on record'} ({who}), given at minute {(v.assigned_at - t0) / 60:.1f}"
                + (f", outcome {v.outcome}" if v.outcome else ", not visited")
            )
        out.append(
            {
                "household_id": h.household_id,
                "village": h.village_code,
                "group": h.cell_code,
                "vulnerable": bool(h.vulnerable),
                "goal_min": vulnerable_min if h.vulnerable else households_min,
                "reached_min": round((h.reached_at - t0) / 60, 1) if h.state == "reached" else None,
                "reached_by": h.reached_by,
                "why": "; ".join(why),
            }
        )
    return out
