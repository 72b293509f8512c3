"""The ladder's steps for organisations (issue 17), run by the same sweep, at the same step times and
under the same step numbers as the households' (so a reply to any of them is matched the same way):

- `resend`: the silent orgs' responsible persons get the org's message again, on the step's channels or
  the rule's;
- `visit`: they are 叫应'd — a voice call where the rule makes voice calls, else their best channel — and
  the org's group leader (for an org in a group) or the village's grid member / grid head is told to go
  to the org, naming it and its responsible persons;
- `escalate`: the silent orgs go up the grid — the step's role (village grid head, township dispatcher)
  gets one message naming them all, recorded on each org (`escalated_to`).

Only an acknowledgement by a responsible person marks an org reached (acks/orgs.py); the last step that ran
and to whom it was handed are the reason the closure report gives for an org left unreached."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from warnengine.escalate.duty import OnDuty
from warnengine.escalate.rows import _best, _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import Channel, HazardWarning, Role, Status
from warnengine.model.org import KIND_NAMES
from warnengine.model.org_records import WarningOrg
from warnengine.obs import metrics
from warnengine.plan.orgs import OrgPlan, add_org_rows, org_text
from warnengine.plan.policy import Rule, Step
from warnengine.resolve.directory import Contact
from warnengine.resolve.orgs import OrgEntry

log = structlog.get_logger("warnengine.escalate")
_KIND = {k.value: name for k, name in KIND_NAMES.items()}


async def org_step(
    store: EscalateStore, duty: OnDuty, w: HazardWarning, rule: Rule, number: int, step: Step, now: float
) -> list[tuple[object, ...]]:
    """The step's deliveries for the warning's silent orgs; the org-linked ones are recorded here, the
    ladder writes and dispatches them all with its own."""
    silent = await store.warning_orgs(w.warning_id, unreached=True)
    if not silent:
        return []
    expires = w.expires.timestamp() if w.expires else now + 6 * 3600
    people = duty.directory.contacts()
    drill = w.status in (Status.EXERCISE, Status.TEST)
    plan = OrgPlan()
    handed: dict[str, str | None] = {o.org_id: None for o in silent}
    rows: list[tuple[object, ...]] = []
    if step.action != "escalate":  # resend and visit remind the responsible persons themselves
        for o in silent:
            _remind(plan, w, rule, step, number, o, people, drill, now, expires)
    if step.action == "visit":
        for pid, mine in _by_recipient(silent, lambda o: _visitor(duty, o)).items():
            handed.update(dict.fromkeys((o.org_id for o in mine), pid))
            rows += _notice(
                w, people[pid], mine, number, now, "请即前往以下单位当面告知预警并请负责人回复", people
            )
    elif step.action == "escalate":
        assert step.to is not None
        role = step.to
        for pid, mine in _by_recipient(silent, lambda o: _superior(duty, o, role)).items():
            handed.update(dict.fromkeys((o.org_id for o in mine), pid))
            rows += _notice(w, people[pid], mine, number, now, "以下单位负责人未回复预警，请督促落实", people)
    await store.save_org_plan([], plan.links)
    await store.mark_org_step(w.warning_id, [(org, number, to) for org, to in sorted(handed.items())])
    metrics.ESCALATION_STEPS.labels(f"org_{step.action}").inc()
    log.info(
        "org_step", step=number, action=step.action, orgs=len(silent), new=len(plan.deliveries) + len(rows)
    )
    return plan.deliveries + rows


def _remind(
    plan: OrgPlan,
    w: HazardWarning,
    rule: Rule,
    step: Step,
    number: int,
    o: WarningOrg,
    people: dict[str, Contact],
    drill: bool,
    now: float,
    expires: float,
) -> None:
    """The org's message again to its responsible persons: on the resend step's channels (or the rule's),
    or, at the visit step, as a 叫应 — a voice call where the rule makes them, else their best channel."""
    entry = _entry(o)
    if step.action == "resend":
        channels = step.switch_to or rule.channels
    else:
        channels = (Channel.VOICE,) if rule.duty_voice_calls > 0 else ()
    for p in o.responsible:
        c = people.get(p)
        if c is not None and (not drill or c.drill_opt_in):
            add_org_rows(plan, w, entry, c, channels or _best(c), number, org_text(w, entry), now, expires)


def _entry(o: WarningOrg) -> OrgEntry:
    return OrgEntry(
        o.org_id, o.village_code, o.cell_code, o.kind, o.name, 0.0, 0.0, o.headcount, o.responsible
    )


def _visitor(duty: OnDuty, o: WarningOrg) -> Contact | None:
    """Who goes to the org: its group's leader, else the village's grid member, else its grid head —
    never one of the org's own (silent) responsible persons."""
    chain = [(o.village_code, Role.GRID_MEMBER), (o.village_code, Role.GRID_HEAD)]
    if o.cell_code != o.village_code:
        chain.insert(0, (o.cell_code, Role.GROUP_LEADER))
    skip = set(o.responsible)
    for cell, role in chain:
        found = duty.first(cell, role, skip)
        if found is not None:
            return found
    return None


def _superior(duty: OnDuty, o: WarningOrg, role: Role) -> Contact | None:
    """The step's role over the org: in its village for a grid head, in its township for a dispatcher."""
    for cell in duty.directory.above(o.village_code):
        found = duty.first(cell, role, set(o.responsible))
        if found is not None:
            return found
    return None


def _by_recipient(
    silent: list[WarningOrg], pick: Callable[[WarningOrg], Contact | None]
) -> dict[str, list[WarningOrg]]:
    out: dict[str, list[WarningOrg]] = {}
    for o in silent:
        who = pick(o)
        if who is None:
            log.warning("org_without_staff", org_id=o.org_id, village=o.village_code)
            continue
        out.setdefault(who.person_id, []).append(o)
    return out


def _notice(
    w: HazardWarning,
    to: Contact,
    orgs: list[WarningOrg],
    number: int,
    now: float,
    ask: str,
    people: dict[str, Contact],
) -> list[tuple[object, ...]]:
    """One message per recipient and step naming every org (its delivery is per person, key `#orgs`)."""
    lines = []
    for o in orgs:
        heads = "、".join(_named(people.get(p)) for p in o.responsible) or "无负责人记录"
        lines.append(f"{o.name}（{_KIND.get(o.kind, o.kind)}，{o.headcount}人）负责人：{heads}")
    text = f"【{w.headline or w.event}】{ask}：" + "；".join(lines) + "。"
    rows = _rows(
        w,
        to._replace(person_id=f"{to.person_id}#orgs"),
        _best(to),
        number,
        orgs[0].village_code,
        None,
        text,
        now,
    )
    return [(*r[:10], to.person_id, *r[11:]) for r in rows]  # the delivery is still that person's


def _named(c: Contact | None) -> str:
    if c is None:
        return "未知"
    return f"{c.person_id} {c.phone or c.landline or ''}".strip()
