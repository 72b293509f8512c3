"""Follow-ups after a visit (issue 17): a household that needs help is an open case, handed at once to the
village grid head on duty (叫应 by the visit message) and kept open until a visitor reports it reached; a
nobody-home door is visited again `revisit_min` after (a vulnerable household's `revisit_vulnerable_min`),
asking the neighbours — a second empty door is final
("whereabouts unknown"), a neighbour's word that the family is away is reported as `moved` ("away")."""

from __future__ import annotations

from hashlib import sha256

import structlog

from warnengine.escalate.duty import OnDuty
from warnengine.escalate.store import EscalateStore
from warnengine.model import HazardWarning, Role, steps
from warnengine.model.records import VisitTask
from warnengine.obs import metrics
from warnengine.plan.policy import Rule

log = structlog.get_logger("warnengine.escalate")

FOLLOW_STEP = steps.FOLLOW.start  # a follow-up's deliveries: + seconds since resolved (model/steps.py)


async def follow_up(
    store: EscalateStore, duty: OnDuty, w: HazardWarning, rule: Rule, resolved_at: float, now: float
) -> tuple[list[VisitTask], int]:
    """Creates this sweep's follow-up tasks; returns them and the step number their messages use."""
    cases = await store.follow_ups(
        w.warning_id, now - rule.revisit_min * 60, now - rule.revisit_vulnerable_min * 60
    )
    if not cases:
        return [], 0
    step = steps.FOLLOW.after(now - resolved_at)
    silent = await store.silent_staff(w.warning_id)
    groups: dict[tuple[str, str, str, str | None, int], list[tuple[str, bool]]] = {}
    for hid, village, group, vulnerable, kind in cases:
        who, level = _visitor(duty, village, group, kind, silent)
        groups.setdefault((kind, village, group, who, level), []).append((hid, vulnerable))
    tasks = [
        VisitTask(
            _task_id(w.warning_id, kind, group, who, step, [h for h, _ in homes]),
            w.warning_id,
            w.version,
            village,
            group,
            who,
            level,
            "open",
            tuple(sorted(((h, vul, None) for h, vul in homes), key=lambda x: (not x[1], x[0]))),
        )
        for (kind, village, group, who, level), homes in sorted(groups.items(), key=lambda kv: str(kv[0]))
    ]
    await store.create_visit_tasks(tasks, now)
    metrics.VISIT_TASKS.labels("follow_up").inc(len(tasks))
    log.info("visit_follow_up", tasks=len(tasks), households=len(cases))
    return tasks, step


def _visitor(duty: OnDuty, village: str, group: str, kind: str, silent: set[str]) -> tuple[str | None, int]:
    """needs_help: the village grid head on duty (level 1); nobody home: the group leader, else the head;
    with the head silent, the township's dispatcher (level 2). Staff who have not answered their own 叫应
    are passed over (follow-ups are not escalated again: a silent holder would keep a family that needs
    help waiting for ever — seen in the demo); a silent head is still better named than none."""
    if kind == "nobody_home":
        leader = duty.first(group, Role.GROUP_LEADER, silent)
        if leader is not None:
            return leader.person_id, 0
    head = duty.first(village, Role.GRID_HEAD, silent)
    if head is not None:
        return head.person_id, 1
    cell = duty.directory.cells.get(village)
    dispatcher = duty.first(cell.parent, Role.DISPATCHER, silent) if cell and cell.parent else None
    if dispatcher is not None:
        return dispatcher.person_id, 2
    head = duty.first(village, Role.GRID_HEAD)
    return (head.person_id if head else None), 1


def _task_id(
    warning_id: str, kind: str, group: str, who: str | None, step: int, households: list[str]
) -> str:
    """Stable for one batch (a redelivered sweep makes the same task), distinct for another: a batch of
    the same group and visitor in the same step must not add its doors to a task already done (nobody
    would walk them)."""
    key = "\x1f".join([warning_id, kind, group, str(who), str(step), *sorted(households)])
    return "v-" + sha256(key.encode()).hexdigest()[:20]
