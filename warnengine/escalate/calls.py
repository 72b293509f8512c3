"""叫应 calls: staff who do not answer → the person on duty above them, and on up the chain."""

from __future__ import annotations

from typing import Protocol

import structlog

from warnengine.escalate.duty import OnDuty, next_calls
from warnengine.escalate.rows import CALL_STEP, _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import HazardWarning
from warnengine.model.records import DutyCall
from warnengine.obs import metrics
from warnengine.plan.policy import Rule
from warnengine.resolve.directory import Contact

log = structlog.get_logger("warnengine.escalate")


class Counts(Protocol):
    """What the ladder's sweep counts (ladder.SweepCounts has these)."""

    staff_called: int
    duty_calls: int


async def call_superiors(
    store: EscalateStore, duty: OnDuty, w: HazardWarning, rule: Rule, now: float, counts: Counts
) -> list[tuple[object, ...]]:
    """叫应: staff silent past `staff_ack_min` → the first on their duty chain gets a call naming them;
    a call unanswered for as long again → the next on the chain (escalate/duty.py)."""
    window = rule.staff_ack_min * 60
    rows: list[tuple[object, ...]] = []
    calls: list[DutyCall] = []
    for person, target, rung, before in await next_calls(store, duty, w.warning_id, window, CALL_STEP):
        calls.append(
            DutyCall(person.person_id, target.contact.person_id, rung, target.cell_code, target.post, now)
        )
        text = _call_text(duty, person, rule, [c.target_id for c in before])
        rows += _rows(w, target.contact, rule.channels, CALL_STEP, target.cell_code[:12], None, text, now)
    silent = await store.unanswered_staff(w.warning_id, w.version, now - window)
    people = duty.directory.contacts()
    first: list[tuple[str, str | None]] = []
    for pid in silent:
        who = people.get(pid)
        to = next(iter(duty.chain(who)), None) if who else None
        first.append((pid, to.contact.person_id if to else None))
        if to is not None and who is not None:
            calls.append(DutyCall(pid, to.contact.person_id, 0, to.cell_code, to.post, now))
            text = _call_text(duty, who, rule, [])
            rows += _rows(w, to.contact, rule.channels, CALL_STEP, to.cell_code[:12], None, text, now)
    await store.save_plan(rows, [])
    if first:
        await store.record_staff_calls(w.warning_id, first, now)
        counts.staff_called += len(first)
        metrics.STAFF_CALLS.inc(len(first))
        log.warning("staff_not_answering", staff=silent, superiors=[c[1] for c in first])
    if calls:
        await store.record_duty_calls(w.warning_id, calls)
        for c in calls:
            metrics.DUTY_CALLS.labels(c.post or "none").inc()
        log.info("duty_calls", calls=[(c.person_id, c.target_id, c.rung, c.post) for c in calls])
    counts.duty_calls += len(calls)
    return rows


def _call_text(duty: OnDuty, person: Contact, rule: Rule, unanswered: list[str]) -> str:
    """The 叫应 message: who is silent, where, for how long, and who was called about them already."""
    cell = duty.directory.cells.get(person.cell_code)
    where = f"{cell.name}" if cell else person.cell_code
    minutes = int(rule.staff_ack_min * (len(unanswered) + 1))
    text = (
        f"叫应：{where} {person.person_id}（{person.role.value}）{minutes}分钟内未确认收到预警，请立即联系。"
    )
    if unanswered:
        text += f"已叫应未应答 / called, no answer: {'、'.join(unanswered)}。"
    return text
