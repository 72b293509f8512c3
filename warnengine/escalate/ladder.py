"""One escalation sweep, run by the leader on a timer; safe to run anywhere, any time, any number of times.

Deadlines live in the database (each version's `resolved_at` plus the ladder's minutes; the steps that ran
in `escalation_steps`), so a restart loses no timer. Per live warning version:

- where the policy lets a played loudspeaker count, households of villages whose terminal played are reached;
- a village whose terminals are all offline, or none played within the rule's window, gets its visits and
  its terminals' 专人 叫应 at once (escalate/fallback.py), not at the visit step;
- the vulnerable register's helpers and the monitoring points' leads get their doors at once
  (escalate/first_doors.py); a helper silent `staff_ack_min` after that hands their untouched doors to
  the village grid head at once (escalate/helper_handover.py);
- staff who did not acknowledge within `staff_ack_min` have their superior called (叫应), once;
- each ladder step whose time has come runs once, on the households not reached by then:
  `resend` (the same or other channels), `visit` (a door-to-door task per village group for its group
  leader, vulnerable households first), `escalate` (unconfirmed visits go to the village grid head, then
  the township dispatcher);
- follow-ups (escalate/follow_up.py): a `needs_help` household goes at once to the village grid head on
  duty and stays open; a `nobody_home` door is visited again after the rule's `revisit_min`;
- field reports nobody took within the policy's `report_take_min` 叫应 the county duty (escalate/inbox.py).

An acknowledgement accounts for its sender (到人, db/store/persons.py): a household leaves every later step
once all its members are accounted for, and resends skip those who are; a Cancel ends the version (it is
no longer live) and cancels its open visit tasks. New deliveries are planned rows like any other: the
village tasks this returns are emitted so the dispatch stage sends them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Set
from dataclasses import dataclass, field

import structlog

from warnengine.escalate import fallback
from warnengine.escalate.calls import call_superiors
from warnengine.escalate.duty import OnDuty
from warnengine.escalate.evacuate import evacuation_sweep
from warnengine.escalate.first_doors import first_doors
from warnengine.escalate.follow_up import follow_up
from warnengine.escalate.helper_handover import hand_over_silent
from warnengine.escalate.inbox import inbox_deadlines
from warnengine.escalate.orgs import org_step
from warnengine.escalate.rows import _best, _rows
from warnengine.escalate.store import EscalateStore
from warnengine.escalate.visit_tasks import visit_tasks
from warnengine.escalate.visit_text import visit_text
from warnengine.model import HazardWarning, Role, Status
from warnengine.model.records import VisitTask
from warnengine.obs import metrics
from warnengine.plan.policy import DisseminationPolicy, Residents, Rule, Step
from warnengine.resolve.directory import Contact, Directory

log = structlog.get_logger("warnengine.escalate")

EmitVillage = Callable[[str, int, str], Awaitable[None]]


@dataclass
class SweepCounts:
    loudspeaker_reached: int = 0
    staff_called: int = 0
    duty_calls: int = 0
    duty_gaps: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)  # warning:village of loudspeaker fallbacks
    steps: list[str] = field(default_factory=list)
    deliveries: int = 0


async def escalate(
    store: EscalateStore,
    directory: Directory,
    policy: DisseminationPolicy,
    emit_village: EmitVillage,
    persons: bool = True,
) -> SweepCounts:
    """One sweep. `persons`: resends skip the persons already accounted for (到人); False only to measure
    what that costs (benchmarks/persons_sweep.py)."""
    now = store.clock.now()
    counts = SweepCounts()
    board = await store.duty_board(now)
    counts.duty_gaps = board.gaps(now)
    metrics.DUTY_GAPS.set(len(counts.duty_gaps))
    duty = OnDuty(directory, board, now)
    lives = await store.live_for_escalation(now)
    for live in lives:
        w = live.warning
        rule = policy.rule_for(w.hazard, w.severity, w.event)
        with structlog.contextvars.bound_contextvars(warning_id=w.warning_id, version=w.version):
            if rule.loudspeaker and rule.loudspeaker_reaches_household:
                counts.loudspeaker_reached += await store.reach_by_loudspeaker(w.warning_id, w.version, now)
            rows: list[tuple[object, ...]] = []
            rows += await call_superiors(store, duty, w, rule, now, counts)
            evac, shelter_of = await evacuation_sweep(
                store, duty, w, rule, live.resolved_at, now, _visit_messages
            )
            rows += evac
            rows += await first_doors(store, duty, w, rule, policy, live.steps_done, now, shelter_of)
            rows += await hand_over_silent(
                store, duty, w, rule, live.resolved_at, now, live.steps_done, shelter_of
            )
            rows += await _fall_back(store, duty, w, rule, live.resolved_at, now, counts, shelter_of)
            elapsed = now - live.resolved_at
            for number, step in enumerate(rule.ladder, start=1):
                if number in live.steps_done or elapsed < step.after_min * 60:
                    continue
                new, households = await _run_step(
                    store, duty, w, rule, number, step, now, shelter_of, persons
                )
                new += await org_step(store, duty, w, rule, number, step, now)  # silent orgs, same step
                rows += new
                await store.save_plan(new, [])
                await store.record_step(w.warning_id, w.version, number, step.action, households, now)
                counts.steps.append(f"{w.warning_id}:{number}:{step.action}")
                metrics.ESCALATION_STEPS.labels(step.action).inc()
                log.info(
                    "escalation_step", step=number, action=step.action, households=households, new=len(new)
                )
            follow, number = await follow_up(store, duty, w, rule, live.resolved_at, now)
            if follow:
                new = _visit_messages(directory, w, number, follow, now, shelter_of)
                await store.save_plan(new, [])
                rows += new
            counts.deliveries += len(rows)
            for village in sorted({str(r[3]) for r in rows}):
                await emit_village(w.warning_id, w.version, village)
    # Field reports nobody took in time: the county duty is 叫应'd (escalate/inbox.py).
    calls = await inbox_deadlines(store, duty, lives, policy, now)
    counts.deliveries += len(calls)
    for wid, version, village in sorted({(str(r[1]), int(str(r[2])), str(r[3])) for r in calls}):
        await emit_village(wid, version, village)
    return counts


async def _run_step(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    number: int,
    step: Step,
    now: float,
    shelter_of: Mapping[str, str],
    persons: bool = True,
) -> tuple[list[tuple[object, ...]], int]:
    directory = duty.directory
    unreached = await store.unreached_households(w.warning_id)
    if step.action == "resend":
        # A household open only for its members not yet accounted for: the others are not sent again.
        done = await store.accounted_person_ids(w.warning_id) if persons else frozenset[str]()
        return _resend(directory, w, rule, number, step, unreached, now, done), len(unreached)
    if step.action == "visit":
        tasks = await _create_visits(store, duty, w, unreached, now)
    else:  # escalate: unconfirmed visits go up one level
        tasks = await _escalate_visits(store, duty, w, step, now)
    rows = _visit_messages(directory, w, number, tasks, now, shelter_of)
    return rows, sum(len(t.households) for t in tasks)


async def _fall_back(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    resolved_at: float,
    now: float,
    counts: SweepCounts,
    shelter_of: Mapping[str, str],
) -> list[tuple[object, ...]]:
    """Silent loudspeakers: the village's visits now, and its 专人 叫应 (escalate/fallback.py)."""
    due = await fallback.silent_villages(store, w, rule, resolved_at, now)
    if not due:
        return []
    unreached = [h for h in await store.unreached_households(w.warning_id) if h[1] in due]
    tasks = await _create_visits(store, duty, w, unreached, now)
    visit_step, call_step = fallback.step_numbers(resolved_at, now)
    rows = _visit_messages(duty.directory, w, visit_step, tasks, now, shelter_of)
    calls, called = await fallback.call_responsible(store, duty, w, rule, due, call_step, now)
    rows += calls
    await store.save_plan(rows, [])
    homes: dict[str, int] = {}
    for task in tasks:
        homes[task.village_code] = homes.get(task.village_code, 0) + len(task.households)
    # Recorded as steps, so a reply to these messages acknowledges them like any ladder step's.
    for step in (visit_step, call_step):
        await store.record_step(w.warning_id, w.version, step, "fallback", sum(homes.values()), now)
    await fallback.record(store, w, due, homes, called, now)
    counts.fallbacks += [f"{w.warning_id}:{v}" for v in sorted(due)]
    return rows


def _resend(
    directory: Directory,
    w: HazardWarning,
    rule: Rule,
    number: int,
    step: Step,
    unreached: list[tuple[str, str, str, bool]],
    now: float,
    accounted: Set[str] = frozenset(),
) -> list[tuple[object, ...]]:
    """A resend step: the unreached households' members not accounted for, again, on the step's channels
    or the rule's."""
    if rule.residents is Residents.NONE:
        return []
    drill = w.status in (Status.EXERCISE, Status.TEST)
    channels = step.switch_to or rule.person_channels
    rows: list[tuple[object, ...]] = []
    for hid, village, _cell, vulnerable in unreached:
        if rule.residents is Residents.VULNERABLE and not vulnerable:
            continue
        for m in directory.members.get(hid, []):
            if (not drill or m.drill_opt_in) and m.person_id not in accounted:
                rows += _rows(w, m, channels, number, village, hid, None, now)
    return rows


async def _create_visits(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    unreached: list[tuple[str, str, str, bool]],
    now: float,
) -> list[VisitTask]:
    """A visit step: door-to-door tasks for the unreached households not on an open task already (a
    village that fell back has its visits before the ladder's visit step)."""
    # A door still unvisited on a task under way (accepted) is held too: listing it twice would leave
    # it on a list nobody walks once the other visitor has reported it.
    held = await store.visit_tasks(w.warning_id, ("open", "accepted"))
    taken = {h for task in held for h, _, outcome in task.households if outcome is None}
    unreached = [h for h in unreached if h[0] not in taken]
    # Visitors who did not answer their own 叫应 are not sent: their share goes to others at once.
    tasks = visit_tasks(duty, w, unreached, await store.silent_staff(w.warning_id))
    await store.create_visit_tasks(tasks, now)
    metrics.VISIT_TASKS.labels("created").inc(len(tasks))
    return tasks


async def _escalate_visits(
    store: EscalateStore, duty: OnDuty, w: HazardWarning, step: Step, now: float
) -> list[VisitTask]:
    """An escalate step: unconfirmed visits go up one level; returns them with their new visitor."""
    assert step.to is not None
    tasks: list[VisitTask] = []
    moves: list[tuple[str, str | None, int]] = []
    silent = await store.silent_staff(w.warning_id)
    for task in await store.visit_tasks(w.warning_id, ("open",)):
        # Unconfirmed only: a visitor who has reported a household is at work and keeps the task.
        if all(outcome is not None for _, _, outcome in task.households):
            continue
        boss, level = _next_visitor(duty, task, step.to, silent)
        if boss is not None and boss.person_id != task.assignee:
            moves.append((task.task_id, boss.person_id, level))
            tasks.append(_with_assignee(task, boss.person_id, level))
    await store.reassign_visits(moves, now)
    metrics.VISIT_TASKS.labels("escalated").inc(len(moves))
    return tasks


def _visit_messages(
    directory: Directory,
    w: HazardWarning,
    number: int,
    tasks: list[VisitTask],
    now: float,
    shelter_of: Mapping[str, str],
) -> list[tuple[object, ...]]:
    """Each visitor's message for this step, over all their tasks."""
    people = directory.contacts()
    by_visitor: dict[str, list[VisitTask]] = {}
    for task in tasks:
        who = people.get(task.assignee) if task.assignee else None
        if who is None:
            log.warning("visit_without_visitor", group=task.group_code, households=len(task.households))
            continue
        by_visitor.setdefault(who.person_id, []).append(task)
    rows: list[tuple[object, ...]] = []
    for pid, mine in by_visitor.items():
        # One message per visitor and step (its delivery id is per person and step): all their lists.
        who = people[pid]
        rows += _rows(
            w,
            who,
            _best(who),
            number,
            mine[0].village_code,
            None,
            visit_text(mine, shelter_of, directory.register),
            now,
        )
    return rows


def _with_assignee(task: VisitTask, who: str, level: int) -> VisitTask:
    return VisitTask(
        task.task_id,
        task.warning_id,
        task.version,
        task.village_code,
        task.group_code,
        who,
        level,
        task.state,
        task.households,
    )


def _next_visitor(duty: OnDuty, task: VisitTask, role: Role, silent: Set[str]) -> tuple[Contact | None, int]:
    """Who an unconfirmed visit goes to, and at which level: the ladder's role for the task's cell, passing
    over anyone who has not answered their own 叫应 to the township's dispatcher, then to whoever is on
    record (a silent visitor is still better named than none)."""
    township = _cell_for(duty.directory, task, Role.DISPATCHER)
    chain = [(_cell_for(duty.directory, task, role), role, 1 if role is Role.GRID_HEAD else 2)]
    if role is Role.GRID_HEAD:
        chain.append((township, Role.DISPATCHER, 2))
    for skip in (silent, frozenset()):
        for cell, who, level in chain:
            boss = duty.first(cell, who, skip)
            if boss is not None:
                return boss, level
    return None, chain[0][2]


def _cell_for(directory: Directory, task: VisitTask, role: Role) -> str:
    """Where the next visitor sits: the village for its grid head, the township for a dispatcher."""
    if role is Role.DISPATCHER:
        cell = directory.cells.get(task.village_code)
        return cell.parent if cell and cell.parent else task.village_code
    return task.village_code
