"""A silent helper's doors (issue 17): a helper (包保) who has acknowledged nothing of the warning
`staff_ack_min` after their step-0 叫应, and has reported none of their doors, hands them to the village
grid head on duty at once (代包保), not at the ladder's escalate step (minute 45 for red).

Why: the ladder's visit step shares a village's unreached doors among those who answered their own 叫应,
but it leaves out doors already held by an open task, so a vulnerable door on a silent helper's task would
wait for the escalate step — later than for a household with no helper at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import structlog

from warnengine.escalate.duty import OnDuty
from warnengine.escalate.first_doors import HELPER_STEP, _task_id, register_label
from warnengine.escalate.rows import _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import Channel, HazardWarning, Role
from warnengine.obs import metrics
from warnengine.plan.policy import Rule
from warnengine.resolve.directory import Register

log = structlog.get_logger("warnengine.escalate")

Row = tuple[object, ...]


async def hand_over_silent(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    resolved_at: float,
    now: float,
    done: Set[int],
    shelter_of: Mapping[str, str],
) -> list[Row]:
    """Reassigns the untouched helper tasks of silent helpers to their village's grid head (or the
    township's dispatcher) and returns that person's message naming the doors (a 叫应 of the helpers'
    step, so a reply acknowledges it)."""
    if HELPER_STEP not in done or now - resolved_at < rule.staff_ack_min * 60:
        return []
    held = [
        x
        for x in await store.visit_tasks(w.warning_id, ("open",))
        if x.assignee
        and x.task_id == _task_id(w, "helper", x.assignee, x.group_code)  # still with its helper
        and all(out is None for _, _, out in x.households)
    ]
    if not held:
        return []
    answered = await store.answered(w.warning_id, sorted({str(x.assignee) for x in held}))
    silent = {str(x.assignee) for x in held} - answered
    if not silent:
        return []
    skip = silent | await store.silent_staff(w.warning_id)
    moves: list[tuple[str, str | None, int]] = []
    doors: dict[str, list[str]] = {}
    village_of: dict[str, str] = {}
    for task in held:
        if task.assignee not in silent:
            continue
        boss, level = _stand_in(duty, task.village_code, skip)
        if boss is None:
            log.warning("helper_silent_no_stand_in", village=task.village_code, helper=task.assignee)
            continue
        moves.append((task.task_id, boss, level))
        doors.setdefault(boss, []).extend(h for h, _, _ in task.households)
        village_of.setdefault(boss, task.village_code)
    await store.reassign_visits(moves, now)
    metrics.VISIT_TASKS.labels("helper_handover").inc(len(moves))
    people = duty.directory.contacts()
    voice = (Channel.VOICE,) if rule.duty_voice_calls > 0 else ()
    channels = tuple(dict.fromkeys((*rule.channels, *voice)))
    rows: list[Row] = []
    for boss, homes in sorted(doors.items()):
        text = handover_text(homes, duty.directory.register, shelter_of)
        rows += _rows(w, people[boss], channels, HELPER_STEP, village_of[boss], None, text, now)
    await store.save_plan(rows, [])
    log.info(
        "helper_handover", helpers=len(silent), tasks=len(moves), households=sum(map(len, doors.values()))
    )
    return rows


def _stand_in(duty: OnDuty, village: str, skip: set[str]) -> tuple[str | None, int]:
    """The village's grid head on duty who has not been silent, else the township's dispatcher, else the
    grid head on record (silent too, but called by their own superior: better named than none)."""
    head = duty.first(village, Role.GRID_HEAD, skip)
    if head is not None:
        return head.person_id, 1
    cell = duty.directory.cells.get(village)
    township = cell.parent if cell and cell.parent else village
    boss = duty.first(township, Role.DISPATCHER, skip)
    if boss is not None:
        return boss.person_id, 2
    head = duty.first(village, Role.GRID_HEAD)
    return (head.person_id if head else None), 1


def handover_text(homes: list[str], register: Mapping[str, Register], shelter_of: Mapping[str, str]) -> str:
    doors = "、".join(
        h + f"（{register_label(register.get(h))}）" + (f"→{shelter_of[h]}" if h in shelter_of else "")
        for h in homes
    )
    return (
        f"叫应（代包保）：包保责任人未回复，请立即上门{doors}，协助转移或确认安全，完成后回复“完成”或在App中"
        "逐户填报。 / The helper is silent: go to these vulnerable households now."
    )
