"""Evacuation (转移, issue 17): when the warning's policy rule orders it for the hazard, the households a
monitoring point threatens (of those the warning targets) are ordered out once, each to a shelter — the
nearest with room left, vulnerable households placed first; the nearest at all when every one is full
(over capacity is flagged on the live counts, not hidden). Each household's residents get a message naming
their shelter, at a step of its own (EVAC_STEP, recorded so "收到" acknowledges it).

A refusal (拒绝转移) opens a field report (store) and here, at the next sweep, gives the village grid head on
duty a second visit to that door (a visit task of level 1, its message at EVAC_VISIT_STEP + seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from hashlib import sha256

import numpy as np
import structlog

from warnengine.escalate.duty import OnDuty
from warnengine.escalate.rows import _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import HazardWarning, Role, Status, steps
from warnengine.model.evacuation import Shelter
from warnengine.model.records import VisitTask
from warnengine.obs import metrics
from warnengine.plan.policy import Rule
from warnengine.resolve.directory import Directory

log = structlog.get_logger("warnengine.escalate")

EVAC_STEP = steps.EVACUATE.start  # the order's messages (model/steps.py: the table of step numbers)
EVAC_VISIT_STEP = steps.EVAC_VISIT.start  # second visits after a refusal: + seconds since resolved

Threatened = tuple[
    str, str, str, bool, int, float, float
]  # household, village, group, vulnerable, persons, x, y


def assign(homes: Sequence[Threatened], shelters: Sequence[Shelter]) -> dict[str, str | None]:
    """household → shelter id: the nearest with room for the household, else the nearest (None: no
    shelter at all). Vulnerable households first, so they get the nearest places."""
    if not shelters:
        return {h[0]: None for h in homes}
    xs = np.array([s.lon for s in shelters])
    ys = np.array([s.lat for s in shelters])
    left = np.array([s.capacity for s in shelters])
    out: dict[str, str | None] = {}
    for hid, _v, _g, _vul, persons, x, y in sorted(homes, key=lambda h: (not h[3], h[0])):
        # Degrees are not metres, but within one county the cosine of the latitude is all that differs.
        d = ((xs - x) * np.cos(np.radians(y))) ** 2 + (ys - y) ** 2
        order = np.argsort(d, kind="stable")
        room = [i for i in order if left[i] >= persons]
        pick = int(room[0] if room else order[0])
        left[pick] -= persons
        out[hid] = shelters[pick].shelter_id
    return out


async def order_evacuation(
    store: EscalateStore, directory: Directory, w: HazardWarning, rule: Rule, now: float
) -> list[tuple[object, ...]]:
    """Once per warning: the threatened households ordered out, each with a shelter, and told so."""
    if not rule.evacuates(w.hazard) or await store.evacuation_ordered(w.warning_id):
        return []
    homes = await store.threatened_households(w.warning_id)
    if not homes:
        return []
    shelters = await store.shelters()
    placed = assign(homes, shelters)
    await store.order_evacuation(
        [
            {
                "warning_id": w.warning_id,
                "household_id": hid,
                "village_code": village,
                "cell_code": group,
                "vulnerable": vulnerable,
                "shelter_id": placed[hid],
                "persons": persons,
                "ordered_at": now,
            }
            for hid, village, group, vulnerable, persons, _x, _y in homes
        ]
    )
    names = {s.shelter_id: s.name for s in shelters}
    drill = w.status in (Status.EXERCISE, Status.TEST)
    rows: list[tuple[object, ...]] = []
    for hid, village, _g, _vul, _p, _x, _y in homes:
        text = order_text(w, names.get(placed[hid] or ""))
        for m in directory.members.get(hid, []):
            if not drill or m.drill_opt_in:
                rows += _rows(w, m, rule.person_channels, EVAC_STEP, village, hid, text, now)
    await store.save_plan(rows, [])
    await store.record_step(w.warning_id, w.version, EVAC_STEP, "evacuate", len(homes), now)
    metrics.ESCALATION_STEPS.labels("evacuate").inc()
    log.warning(
        "evacuation_ordered",
        households=len(homes),
        persons=sum(h[4] for h in homes),
        unsheltered=sum(1 for v in placed.values() if v is None),
    )
    return rows


def order_text(w: HazardWarning, shelter: str | None) -> str:
    where = f"{shelter}安置点" if shelter else "安全地带（投亲靠友）"
    return (
        f"转移通知：{w.event}{w.severity.value}预警，请立即组织全家转移至{where}，"
        f"行动不便请回复“求助”。Evacuate now to {shelter or 'safe ground / relatives'}."
    )


async def second_visits(
    store: EscalateStore, duty: OnDuty, w: HazardWarning, resolved_at: float, now: float
) -> tuple[list[VisitTask], int]:
    """Refusals not yet followed: a task for each village's grid head on duty; the step its messages use."""
    due = await store.second_visits_due(w.warning_id)
    if not due:
        return [], 0
    step = steps.EVAC_VISIT.after(now - resolved_at)
    by_village: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for hid, village, group, vulnerable in due:
        by_village.setdefault((village, group), []).append((hid, vulnerable))
    tasks = []
    for (village, group), homes in sorted(by_village.items()):
        head = duty.first(village, Role.GRID_HEAD)
        who = head.person_id if head else None
        # Per batch: a second batch in the same step must not land on a task already walked.
        key = "\x1f".join([w.warning_id, "refused", group, str(who), str(step), *sorted(h for h, _ in homes)])
        tid = "v-" + sha256(key.encode()).hexdigest()[:20]
        homes_ = tuple(sorted(((h, vul, None) for h, vul in homes), key=lambda x: (not x[1], x[0])))
        tasks.append(VisitTask(tid, w.warning_id, w.version, village, group, who, 1, "open", homes_))
    await store.create_visit_tasks(tasks, now)
    await store.mark_followed(w.warning_id, [h for h, _, _, _ in due], now)
    metrics.VISIT_TASKS.labels("evacuation_refused").inc(len(tasks))
    log.info("evacuation_second_visits", tasks=len(tasks), households=len(due))
    return tasks, step


def shelter_names(rows: Sequence[Mapping[str, object]], shelters: Sequence[Shelter]) -> dict[str, str]:
    """household → its shelter's name, for visit lists."""
    names = {s.shelter_id: s.name for s in shelters}
    return {str(r["household_id"]): names.get(str(r["shelter_id"]), "") for r in rows if r.get("shelter_id")}


VisitMessages = Callable[
    [Directory, HazardWarning, int, list[VisitTask], float, Mapping[str, str]], list[tuple[object, ...]]
]


async def evacuation_sweep(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    resolved_at: float,
    now: float,
    messages: VisitMessages,
) -> tuple[list[tuple[object, ...]], dict[str, str]]:
    """This sweep's evacuation work for one warning version: the order (once), second visits after
    refusals; returns the rows planned (saved) and household → shelter name for every visit list."""
    if not rule.evacuates(w.hazard):
        return [], {}
    rows = await order_evacuation(store, duty.directory, w, rule, now)
    shelter_of = shelter_names(await store.evacuation_households(w.warning_id), await store.shelters())
    tasks, step = await second_visits(store, duty, w, resolved_at, now)
    if tasks:
        new = messages(duty.directory, w, step, tasks, now, shelter_of)
        await store.save_plan(new, [])
        rows += new
    return rows, shelter_of
