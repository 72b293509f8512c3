"""The field-report inbox's deadline (issue 17): a report nobody took (认领) within the policy's
`report_take_min` is a breach — the county duty is 叫应'd (post A, then B, then the deputy at each further
`report_take_min`, as the duty ladder of escalate/duty.py orders them; the directory's dispatchers when no
roster names the county).

The 叫应 is a message like any other: delivery rows of a live warning (the report's own, else the newest
live one), on the rule's channels and by phone when the rule calls by phone, at a step of its own
(INBOX_STEP + seconds since that version resolved) recorded so a "收到" reply acknowledges it. Without any
live warning the breach is still counted and logged; nobody can be messaged outside a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from warnengine.escalate.duty import OnDuty, Target
from warnengine.escalate.rows import _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import Channel, Level, Role, steps
from warnengine.model.field_report import FieldReport
from warnengine.model.records import LiveVersion
from warnengine.obs import metrics
from warnengine.plan.policy import DisseminationPolicy

log = structlog.get_logger("warnengine.escalate")

INBOX_STEP = steps.INBOX.start  # + seconds since the version resolved (model/steps.py)


async def inbox_deadlines(
    store: EscalateStore, duty: OnDuty, lives: Sequence[LiveVersion], policy: DisseminationPolicy, now: float
) -> list[tuple[object, ...]]:
    """叫应 the county duty about reports not taken in time; returns the delivery rows planned (saved)."""
    take_s = policy.report_take_min * 60
    overdue = await store.overdue_field_reports(now - take_s, now - take_s)
    metrics.FIELD_REPORTS_OPEN.set(await store.open_field_report_count())
    if not overdue:
        return []
    metrics.FIELD_REPORT_BREACHES.inc(sum(1 for r in overdue if r.calls == 0))
    holders = _county_duty(duty)
    by_target: dict[str, tuple[Target, list[FieldReport]]] = {}
    for r in overdue:
        if holders:
            to = holders[min(r.calls, len(holders) - 1)]
            by_target.setdefault(to.contact.person_id, (to, []))[1].append(r)
    rows = await _messages(store, lives, policy, by_target, now)
    await store.record_field_report_calls([r.report_id for r in overdue], now)
    log.warning(
        "field_reports_not_taken",
        reports=[r.report_id for r in overdue],
        called=sorted(by_target),
        messages=len(rows),
    )
    return rows


def _county_duty(duty: OnDuty) -> list[Target]:
    counties = sorted(c for c, info in duty.directory.cells.items() if info.level is Level.COUNTY)
    out: list[Target] = []
    for county in counties:
        out += duty.holders(county, Role.DISPATCHER)
    return out


async def _messages(
    store: EscalateStore,
    lives: Sequence[LiveVersion],
    policy: DisseminationPolicy,
    by_target: dict[str, tuple[Target, list[FieldReport]]],
    now: float,
) -> list[tuple[object, ...]]:
    live = {v.warning.warning_id: v for v in lives}
    newest = max(lives, key=lambda v: v.resolved_at, default=None)
    rows: list[tuple[object, ...]] = []
    counted: dict[tuple[str, int, int], int] = {}
    for to, reports in by_target.values():
        for wid, mine in _by_warning(reports, live, newest).items():
            v = live[wid]
            w = v.warning
            rule = policy.rule_for(w.hazard, w.severity, w.event)
            voice = (Channel.VOICE,) if rule.duty_voice_calls > 0 else ()
            step = steps.INBOX.after(now - v.resolved_at)
            text = _text(mine, policy.report_take_min)
            channels = tuple(dict.fromkeys((*rule.person_channels, *voice)))
            rows += _rows(w, to.contact, channels, step, to.cell_code[:12], None, text, now)
            key = (w.warning_id, w.version, step)
            counted[key] = counted.get(key, 0) + len(mine)
    await store.save_plan(rows, [])
    for (wid, version, step), n in counted.items():
        await store.record_step(wid, version, step, "inbox_call", n, now)
    return rows


def _by_warning(
    reports: list[FieldReport], live: dict[str, LiveVersion], newest: LiveVersion | None
) -> dict[str, list[FieldReport]]:
    out: dict[str, list[FieldReport]] = {}
    for r in reports:
        v = live.get(r.warning_id or "") or newest
        if v is not None:
            out.setdefault(v.warning.warning_id, []).append(r)
    return out


def _text(reports: list[FieldReport], minutes: float) -> str:
    what = "；".join(
        f"{r.report_id} {r.kind.value} {r.household_id or r.village_code or ''}".strip() for r in reports
    )
    return (
        f"叫应：{len(reports)}条灾情/求助报告超过{minutes:g}分钟无人认领，请立即在控制台认领处置。"
        f"Field reports not taken within {minutes:g} min: {what}"
    )
