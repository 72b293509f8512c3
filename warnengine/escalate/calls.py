"""叫应 calls: staff who do not answer → the person on duty above them, and on up the chain."""

from __future__ import annotations

from typing import Protocol

import structlog

from warnengine.escalate.duty import OnDuty, Target, next_calls, repeat_calls
from warnengine.escalate.rows import CALL_STEP, CALL_STEPS, _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import Channel, HazardWarning
from warnengine.model.records import DutyCall
from warnengine.obs import metrics
from warnengine.plan.policy import Rule
from warnengine.resolve.directory import Contact

log = structlog.get_logger("warnengine.escalate")


class Counts(Protocol):
    """What the ladder's sweep counts (ladder.SweepCounts has these)."""

    staff_called: int
    duty_calls: int


Due = tuple[Contact, Target, int, list[str]]  # silent person, whom to call, rung, who was called before


async def call_superiors(
    store: EscalateStore, duty: OnDuty, w: HazardWarning, rule: Rule, now: float, counts: Counts
) -> list[tuple[object, ...]]:
    """叫应: staff silent past `staff_ack_min` → the first on their duty chain gets a call naming them;
    a call unanswered for as long again → the next on the chain (escalate/duty.py). Each target gets one
    message per sweep naming everyone they are called about; its step is CALL_STEP + the number of 叫应
    they had before, so a second 叫应 to the same person is a message of its own."""
    voice = rule.duty_voice_calls > 0
    window = (rule.duty_call_window_min if voice else rule.staff_ack_min) * 60
    before = await store.duty_calls(w.warning_id)
    due = [
        (p, to, rung, [c.target_id for c in prior]) for p, to, rung, prior in next_calls(duty, before, window)
    ]
    due = await _answered_filter(store, w.warning_id, due, before)
    again = [
        (p, to, rung, [c.target_id for c in prior])
        for p, to, rung, prior in repeat_calls(duty, before, window, rule.duty_voice_calls)
    ]
    again = await _answered_filter(store, w.warning_id, again, before)
    silent = await store.unanswered_staff(w.warning_id, w.version, now - rule.staff_ack_min * 60)
    people = duty.directory.contacts()
    first: list[tuple[str, str | None]] = []
    for pid in silent:
        who = people.get(pid)
        to = next(iter(duty.chain(who)), None) if who else None
        first.append((pid, to.contact.person_id if to else None))
        if to is not None and who is not None:
            due.append((who, to, 0, []))
    calls = [
        DutyCall(p.person_id, to.contact.person_id, rung, to.cell_code, to.post, now)
        for p, to, rung, _ in due
    ]
    rows = _messages(duty, w, rule, due, again, before, now)
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
    if again:
        await store.record_duty_retries(
            w.warning_id, [(p.person_id, to.contact.person_id, now) for p, to, _, _ in again]
        )
        for _, to, _, _ in again:
            metrics.DUTY_CALLS.labels(to.post or "none").inc()
        log.info("duty_calls_again", calls=[(p.person_id, to.contact.person_id) for p, to, _, _ in again])
    counts.duty_calls += len(calls)
    return rows


async def _answered_filter(
    store: EscalateStore, warning_id: str, due: list[Due], before: list[DutyCall]
) -> list[Due]:
    """The chains still open: neither the silent person nor anyone called about them has answered."""
    if not due:
        return []
    spoke = await store.answered(warning_id, sorted({p.person_id for p, _, _, _ in due}))
    confirmed = await store.answered(warning_id, sorted({c.target_id for c in before}), CALL_STEP)
    return [d for d in due if d[0].person_id not in spoke and not confirmed.intersection(d[3])]


def _messages(
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    due: list[Due],
    again: list[Due],
    before: list[DutyCall],
    now: float,
) -> list[tuple[object, ...]]:
    """One 叫应 per target this sweep: a new call is a message on the rule's channels (and a phone call if
    the rule calls), a call again (`again`) is a phone call only; each is a step of its own."""
    by_target: dict[str, list[Due]] = {}
    for d in [*due, *again]:
        by_target.setdefault(d[1].contact.person_id, []).append(d)
    fresh = {d[1].contact.person_id for d in due}
    had: dict[str, int] = {}
    for c in before:
        had[c.target_id] = had.get(c.target_id, 0) + c.tries
    voice = (Channel.VOICE,) if rule.duty_voice_calls > 0 else ()
    rows: list[tuple[object, ...]] = []
    for tid, mine in by_target.items():
        to = mine[0][1]
        step = CALL_STEP + min(had.get(tid, 0), CALL_STEPS - 1)
        text = " ".join(_call_text(duty, p, rule, [x for x in prior if x != tid]) for p, _, _, prior in mine)
        channels = (*rule.person_channels, *voice) if tid in fresh else voice
        rows += _rows(w, to.contact, tuple(dict.fromkeys(channels)), step, to.cell_code[:12], None, text, now)
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
