"""Issue 17's goals in the simulation's summary (`goal.persons`): every threatened person evacuated or named
with the reason by `evacuation_min`, every vulnerable person accounted for (到人) by
`vulnerable_persons_min`, every field report taken within `report_take_min`. Each says whether it was met,
the minute it was (the last threatened household's outcome, the last vulnerable person accounted for, the
slowest report taken), and, when it was not, who is missing with the reason on record."""

from __future__ import annotations

from typing import Any

from warnengine.db.store import Store
from warnengine.model.field_report import ReportState
from warnengine.sim.scenario import Goal

NAMED = {  # an evacuation outcome names the reason a threatened person did not move (or that they did)
    "evacuated": "已转移 evacuated",
    "refused": "拒绝转移 refused (a field report; the village grid head visits again)",
    "needs_help": "需帮扶 needs help to leave (a field report with a deadline)",
    "away": "不在家 away",
}


def _minute(at: float | None, t0: float) -> float | None:
    return None if at is None else round((at - t0) / 60, 1)


async def persons_goals(store: Store, warning_id: str, t0: float, end: float, g: Goal) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if g.evacuation_min is not None:
        out["evacuation"] = await _evacuation(store, warning_id, t0, g.evacuation_min)
    if g.vulnerable_persons_min is not None:
        out["vulnerable_persons"] = await _vulnerable(store, warning_id, t0, g.vulnerable_persons_min)
    if g.report_take_min is not None:
        out["field_reports"] = await _reports(store, warning_id, t0, end, g.report_take_min)
    return out


async def _evacuation(store: Store, warning_id: str, t0: float, minutes: float) -> dict[str, Any]:
    by = t0 + minutes * 60
    homes = await store.evacuation_households(warning_id)
    named = [h for h in homes if h["outcome"] is not None and float(h["outcome_at"]) <= by]
    partial = [h for h in named if h["outcome"] == "evacuated" and h["evacuated_persons"] < h["persons"]]
    missing = [h for h in homes if h not in named] + partial
    persons: dict[str, int] = {}
    for h in named:
        n = int(h["evacuated_persons"]) if h["outcome"] == "evacuated" else int(h["persons"])
        persons[h["outcome"]] = persons.get(h["outcome"], 0) + n
    last = max((float(h["outcome_at"]) for h in homes if h["outcome"] is not None), default=None)
    return {
        "met": bool(homes) and not missing,
        "met_at_min": _minute(last, t0) if homes and all(h["outcome"] for h in homes) else None,
        "threatened_persons": sum(int(h["persons"]) for h in homes),
        "persons_by_outcome": {NAMED[k]: n for k, n in sorted(persons.items())},
        "not_named": [
            {
                "household_id": h["household_id"],
                "persons": int(h["persons"]) - int(h["evacuated_persons"]),
                "reason": "转移人数少于户人口 fewer evacuated than live there"
                if h in partial
                else "未记录 no outcome recorded by the goal time",
            }
            for h in missing
        ],
    }


async def _vulnerable(store: Store, warning_id: str, t0: float, minutes: float) -> dict[str, Any]:
    by = t0 + minutes * 60
    timeline = await store.accounted_timeline(warning_id)
    rows = await store.closure_rows(warning_id) or {}
    homes = {h["household_id"]: h for h in rows.get("households", [])}
    sizes: dict[str, int] = rows.get("household_size", {})
    size = {hid: n for hid, n in sizes.items() if hid in homes and homes[hid]["vulnerable"]}
    got: dict[str, int] = {}
    last: dict[str, float] = {}
    for at, n, vul, hid in sorted(timeline):
        if vul and at <= by:
            got[hid] = got.get(hid, 0) + n
        if vul:
            last[hid] = at
    missing = [hid for hid, n in size.items() if got.get(hid, 0) < n]
    done = [hid for hid, n in size.items() if sum(x[1] for x in timeline if x[3] == hid) >= n]
    return {
        "met": not missing,
        "met_at_min": _minute(max(last.values()), t0) if size and len(done) == len(size) and last else None,
        "vulnerable_persons": sum(size.values()),
        "accounted_by_goal": sum(min(got.get(h, 0), n) for h, n in size.items()),
        "not_accounted": [
            {
                "household_id": hid,
                "persons": size[hid] - got.get(hid, 0),
                "state": homes[hid]["state"],
                "reason": homes[hid]["reason"] or homes[hid]["state"],
            }
            for hid in sorted(missing)
        ],
    }


async def _reports(store: Store, warning_id: str, t0: float, end: float, minutes: float) -> dict[str, Any]:
    limit = minutes * 60
    reports = await store.field_reports((), 100_000)
    late = [
        r
        for r in reports
        if (r.taken_at is not None and r.taken_at - r.created_at > limit)
        or (r.taken_at is None and r.state is ReportState.OPEN and end - r.created_at > limit)
    ]
    slowest = max((r.taken_at - r.created_at for r in reports if r.taken_at is not None), default=None)
    return {
        "met": not late,
        "slowest_take_min": None if slowest is None else round(slowest / 60, 1),
        "created": len(reports),
        "late": [
            {"report_id": r.report_id, "kind": r.kind.value, "household_id": r.household_id} for r in late
        ],
    }
